//! Chinese full-text search: the one place text is normalised and cut into
//! words, at index time and at query time alike. PostgreSQL's parsers do
//! not segment Chinese, so jieba (with the subject vocabulary added) cuts
//! here and the words go into a `tsvector` written as a literal (the
//! 'simple' configuration's job: no stemming, no stop words of its own).
//! Beside the words go every one- and two-character gram of the text
//! (what pg_bigm does, which Debian does not package), so a term the
//! segmenter did not cut out (a single character, part of a word, a name)
//! is still a lookup in the same GIN index: one or two characters are a
//! gram, longer ones all their grams, checked against the normalised text
//! with `LIKE`. Matches are highlighted here too, from the same terms,
//! HTML-escaped.
//!
//! No database access here.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use jieba_rs::Jieba;
use unicode_normalization::UnicodeNormalization;

/// Longest query looked at; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 100;
/// At most this many words from one query.
const MAX_QUERY_TERMS: usize = 12;

const VOCABULARY: &str = include_str!("vocabulary.txt");

/// Words too common to find anything by. A query of only these falls back
/// to substring search.
const STOP_WORDS: &[&str] = &[
    "的", "了", "和", "与", "及", "或", "是", "在", "之", "等", "a", "an", "the", "of", "and",
    "to", "in",
];

static JIEBA: LazyLock<Jieba> = LazyLock::new(|| {
    let mut jieba = Jieba::new();
    for line in VOCABULARY.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        // A non-empty line has a first word.
        let word = parts.next().unwrap_or_default();
        let freq = parts.next().and_then(|f| f.parse().ok());
        jieba.add_word(word, freq, None);
    }
    jieba
});

/// Loads the dictionary now (it takes a moment), rather than on the first
/// search or save. Blocking: run off the async threads.
pub fn warm() {
    LazyLock::force(&JIEBA);
}

/// The one form text is indexed and searched in: compatibility-normalised
/// (full-width `Ｐｙｔｈｏｎ１` is `python1`) and lower-cased.
pub fn normalise(text: &str) -> String {
    text.nfkc().flat_map(char::to_lowercase).collect()
}

fn is_word(token: &str) -> bool {
    token.chars().any(char::is_alphanumeric) && !STOP_WORDS.contains(&token)
}

/// The words of some text for the index: every word jieba finds in
/// search mode (long words and the shorter words inside them).
pub fn index_words(text: &str) -> Vec<String> {
    let text = normalise(text);
    JIEBA
        .cut_for_search(&text, true)
        .into_iter()
        .map(|t| t.word.trim().to_string())
        .filter(|w| is_word(w))
        .collect()
}

/// The fields of a lesson that are searched.
#[derive(Debug, Default, Clone)]
pub struct Document<'a> {
    pub title: &'a str,
    pub knowledge_points: Vec<&'a str>,
    pub series: &'a str,
    pub tags: Vec<&'a str>,
    pub teacher: &'a str,
    pub description: &'a str,
}

/// What is stored for a lesson, the `tsvector`s as their text form (cast
/// by PostgreSQL): the words and grams of every field; those of the title
/// alone, which rank a lesson first for a query (an index lookup of its
/// own, where a weight in the first would be checked row by row); and the
/// normalised text that long terms are checked against. No positions:
/// nothing ranks by them, and they made every lesson's words twice the
/// size to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    pub tsvector: String,
    pub title: String,
    pub text: String,
}

pub fn index(doc: &Document) -> Indexed {
    let mut fields: Vec<&str> = vec![doc.title, doc.series, doc.teacher, doc.description];
    fields.extend(doc.knowledge_points.iter().copied());
    fields.extend(doc.tags.iter().copied());
    let title = lexemes(&[doc.title]);
    let tsvector = lexemes(&fields);
    Indexed {
        tsvector,
        title,
        text: normalise(&fields.join("\n")),
    }
}

/// The words and grams of some texts as tsvector text, each once.
fn lexemes(texts: &[&str]) -> String {
    let mut all: BTreeSet<String> = BTreeSet::new();
    for text in texts {
        all.extend(index_words(text));
        all.extend(grams(&normalise(text)));
    }
    all.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// Every one- and two-character gram of normalised text, in order, with
/// repeats: the characters of each run of letters and digits, and each
/// pair of neighbours in a run (never across a space or punctuation, which
/// a query's terms do not hold either).
pub fn grams(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in text.split(|c: char| !c.is_alphanumeric()) {
        let chars: Vec<char> = run.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            out.push(c.to_string());
            if let Some(next) = chars.get(i + 1) {
                out.push(format!("{c}{next}"));
            }
        }
    }
    out
}

/// A word as a quoted lexeme of tsvector/tsquery text.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// A query, cut the way lessons are indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The words, normalised: what is highlighted.
    pub terms: Vec<String>,
    /// What a lesson must hold, served by the GIN index: every term
    /// (`&`), each as its gram when it is one or two characters, else as
    /// the word or all of its grams. Stop words are left out unless the
    /// query has nothing else.
    pub tsquery: String,
    /// `LIKE` patterns on the normalised text, all of which must match:
    /// the terms of three characters or more, whose grams may all be in a
    /// lesson without the term being there.
    pub patterns: Vec<String>,
}

/// None for a query with nothing to search for (blank or punctuation).
pub fn parse_query(query: &str) -> Option<Query> {
    let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
    let query = normalise(&query);
    let pieces: Vec<String> = JIEBA
        .cut(&query, true)
        .into_iter()
        .map(|t| t.word.trim().to_string())
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    let mut terms: Vec<String> = Vec::new();
    for piece in &pieces {
        if !terms.contains(piece) && terms.len() < MAX_QUERY_TERMS {
            terms.push(piece.clone());
        }
    }
    if terms.is_empty() {
        return None;
    }
    let mut matched: Vec<&String> = terms.iter().filter(|t| is_word(t)).collect();
    if matched.is_empty() {
        matched = terms.iter().collect();
    }
    let tsquery = matched
        .iter()
        .map(|t| term_query(t))
        .collect::<Vec<_>>()
        .join(" & ");
    let patterns = matched
        .iter()
        .filter(|t| !is_one_gram(t))
        .map(|t| format!("%{}%", escape_like(t)))
        .collect();
    Some(Query {
        terms,
        tsquery,
        patterns,
    })
}

/// The term is exactly one gram of the index (one or two letters or
/// digits), so the index's answer needs no check against the text.
fn is_one_gram(term: &str) -> bool {
    term.chars().all(char::is_alphanumeric) && term.chars().count() <= 2
}

/// One term as tsquery text: its gram, or the word itself or enough of
/// its grams to cover it (every other pair, and the last).
fn term_query(term: &str) -> String {
    if is_one_gram(term) {
        return quote(term);
    }
    let mut covering: Vec<String> = Vec::new();
    for run in term.split(|c: char| !c.is_alphanumeric()) {
        let chars: Vec<char> = run.chars().collect();
        let mut starts: Vec<usize> = (0..chars.len().saturating_sub(1)).step_by(2).collect();
        if chars.len() > 2 && chars.len() % 2 == 1 {
            starts.push(chars.len() - 2);
        }
        if chars.len() == 1 {
            covering.push(run.to_string());
        }
        for s in starts {
            let gram: String = chars[s..s + 2].iter().collect();
            if !covering.contains(&gram) {
                covering.push(gram);
            }
        }
    }
    let grams = covering
        .iter()
        .map(|g| quote(g))
        .collect::<Vec<_>>()
        .join(" & ");
    format!("({} | {grams})", quote(term))
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn escape_html(c: char, out: &mut String) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// `text`, HTML-escaped, with every match of `terms` (normalised words,
/// as in `Query::terms`) in `<mark>…</mark>`. With `window`, at most that
/// many characters around the first match, with `…` where cut.
pub fn highlight(text: &str, terms: &[String], window: Option<usize>) -> String {
    let chars: Vec<char> = text.chars().collect();
    // The normalised text, each character remembering the original one
    // it came from, so matches found in it mark the text as written.
    let mut normal: Vec<char> = Vec::with_capacity(chars.len());
    let mut origin: Vec<usize> = Vec::with_capacity(chars.len());
    for (i, c) in chars.iter().enumerate() {
        for n in std::iter::once(*c).nfkc().flat_map(char::to_lowercase) {
            normal.push(n);
            origin.push(i);
        }
    }
    let mut marked = vec![false; chars.len()];
    for term in terms {
        let term: Vec<char> = term.chars().collect();
        if term.is_empty() || term.len() > normal.len() {
            continue;
        }
        for start in 0..=normal.len() - term.len() {
            if normal[start..start + term.len()] == term[..] {
                for m in &mut marked[origin[start]..=origin[start + term.len() - 1]] {
                    *m = true;
                }
            }
        }
    }
    let (from, to) = match window {
        Some(window) if chars.len() > window => {
            let first = marked.iter().position(|m| *m).unwrap_or(0);
            let from = first.saturating_sub(window / 4).min(chars.len() - window);
            (from, from + window)
        }
        _ => (0, chars.len()),
    };
    let mut out = String::with_capacity(text.len() + 16);
    if from > 0 {
        out.push('…');
    }
    let mut open = false;
    for i in from..to {
        if marked[i] != open {
            out.push_str(if marked[i] { "<mark>" } else { "</mark>" });
            open = marked[i];
        }
        escape_html(chars[i], &mut out);
    }
    if open {
        out.push_str("</mark>");
    }
    if to < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        index_words(text)
    }

    #[test]
    fn a_lesson_title_is_cut_into_the_words_people_search_for() {
        let w = words("认识分数的加减法");
        for expected in ["认识", "分数", "加减法"] {
            assert!(w.contains(&expected.to_string()), "{expected} in {w:?}");
        }
        assert!(!w.contains(&"的".to_string()), "stop words are left out");
        let w = words("勾股定理的应用");
        assert!(w.contains(&"勾股定理".to_string()), "{w:?}");
    }

    #[test]
    fn full_width_and_case_are_normalised_at_both_ends() {
        assert_eq!(normalise("Ｐｙｔｈｏｎ　编程１"), "python 编程1");
        let q = parse_query("Ｐｙｔｈｏｎ编程").unwrap();
        assert_eq!(q.terms, vec!["python", "编程"]);
        assert_eq!(q.tsquery, "('python' | 'py' & 'th' & 'on') & '编程'");
        assert_eq!(q.patterns, vec!["%python%"]);
        assert!(words("Python编程入门").contains(&"python".to_string()));
    }

    #[test]
    fn text_is_cut_into_every_character_and_pair_of_neighbours() {
        assert_eq!(
            grams("勾股定理"),
            ["勾", "勾股", "股", "股定", "定", "定理", "理"]
        );
        // Not across a space or punctuation; digits and letters too.
        assert_eq!(grams("ab 春，20"), ["a", "ab", "b", "春", "2", "20", "0"]);
        assert!(grams(" ，。").is_empty());
    }

    #[test]
    fn a_query_becomes_index_terms_and_checks_for_long_ones() {
        let q = parse_query("分数 加减法").unwrap();
        assert_eq!(q.terms, vec!["分数", "加减法"]);
        // 分数 is a gram; 加减法 the word or its grams, then checked.
        assert_eq!(q.tsquery, "'分数' & ('加减法' | '加减' & '减法')");
        assert_eq!(q.patterns, vec!["%加减法%"]);
        // Single characters and parts of words are grams too.
        let one = parse_query("圆").unwrap();
        assert_eq!((one.tsquery.as_str(), one.patterns.len()), ("'圆'", 0));
        let part = parse_query("三角形的面积").unwrap();
        assert_eq!(part.terms, vec!["三角形", "的", "面积"]);
        assert_eq!(
            part.tsquery, "('三角形' | '三角' & '角形') & '面积'",
            "a stop word is not required"
        );
        // Only a stop word: then it is what is looked for.
        let stop = parse_query("的").unwrap();
        assert_eq!(stop.tsquery, "'的'");
        assert_eq!(parse_query("  ，。!"), None);
        // LIKE's wildcards in a term are literal.
        let percent = parse_query("100%").unwrap();
        assert_eq!(percent.patterns, vec!["%100\\%%"]);
        assert_eq!(percent.tsquery, "('100%' | '10' & '00')");
        assert_eq!(escape_like("1_0%\\"), "1\\_0\\%\\\\");
    }

    #[test]
    fn quotes_cannot_break_out_of_a_lexeme() {
        // jieba cuts punctuation off, but a lexeme is quoted whatever it holds.
        assert_eq!(quote("it's"), "'it''s'");
        assert_eq!(quote("a\\b"), "'a\\\\b'");
        let q = parse_query("o'clock").unwrap();
        assert_eq!(q.tsquery, "'o' & ('clock' | 'cl' & 'oc' & 'ck')");
    }

    #[test]
    fn the_index_holds_every_word_and_gram_and_the_title_its_own() {
        let indexed = index(&Document {
            title: "认识分数",
            description: "分数的加减法练习",
            teacher: "李老师",
            ..Default::default()
        });
        let v: Vec<&str> = indexed.tsvector.split(' ').collect();
        for lexeme in [
            "'分数'",
            "'加减法'",
            "'认'",
            "'识分'",
            "'练'",
            "'老师'",
            "'的'",
        ] {
            assert!(v.contains(&lexeme), "{lexeme} in {v:?}");
        }
        assert_eq!(v.iter().filter(|l| **l == "'分数'").count(), 1, "once");
        assert_eq!(
            indexed.title, "'分' '分数' '数' '认' '认识' '识' '识分'",
            "the title's words and grams"
        );
        assert!(indexed.text.contains("李老师"));
    }

    #[test]
    fn matches_are_marked_in_the_text_as_written_and_escaped() {
        let terms = vec!["分数".to_string(), "python".to_string()];
        assert_eq!(
            highlight("认识分数的加减法", &terms, None),
            "认识<mark>分数</mark>的加减法"
        );
        assert_eq!(
            highlight("Ｐｙｔｈｏｎ & <b>分数</b>", &terms, None),
            "<mark>Ｐｙｔｈｏｎ</mark> &amp; &lt;b&gt;<mark>分数</mark>&lt;/b&gt;"
        );
        let long = format!("{}分数{}", "甲".repeat(50), "乙".repeat(50));
        let snippet = highlight(&long, &terms, Some(20));
        assert!(
            snippet.starts_with('…') && snippet.ends_with('…'),
            "{snippet}"
        );
        assert!(snippet.contains("<mark>分数</mark>"), "{snippet}");
        assert_eq!(highlight("没有", &terms, None), "没有");
    }
}
