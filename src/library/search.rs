//! Chinese full-text search: the one place text is normalised and cut into
//! words, at index time and at query time alike. PostgreSQL's parsers do
//! not segment Chinese, so jieba (with the subject vocabulary added) cuts
//! here and the words go into a `tsvector` written as a literal (the
//! 'simple' configuration's job: no stemming, no stop words of its own);
//! substrings the segmenter does not cut out (single characters, partial
//! words) are found through `pg_trgm` on the normalised text. Matches are
//! highlighted here too, from the same words, HTML-escaped.
//!
//! No database access here.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use jieba_rs::Jieba;
use unicode_normalization::UnicodeNormalization;

/// Longest query looked at; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 100;
/// At most this many words from one query.
const MAX_QUERY_TERMS: usize = 12;
/// PostgreSQL's largest tsvector position, and positions kept per word.
const MAX_POSITION: usize = 16_383;
const MAX_POSITIONS_PER_WORD: usize = 255;

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

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
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

/// The fields of a lesson that are searched, by weight: A the title, B
/// knowledge points, series and tags, C the teacher, D the description.
#[derive(Debug, Default, Clone)]
pub struct Document<'a> {
    pub title: &'a str,
    pub knowledge_points: Vec<&'a str>,
    pub series: &'a str,
    pub tags: Vec<&'a str>,
    pub teacher: &'a str,
    pub description: &'a str,
}

/// What is stored for a lesson: the `tsvector` (as its text form, cast by
/// PostgreSQL) and the normalised text for substring matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    pub tsvector: String,
    pub text: String,
}

pub fn index(doc: &Document) -> Indexed {
    let mut words: BTreeMap<String, Vec<(usize, char)>> = BTreeMap::new();
    let mut position = 0;
    let mut add = |word: String, weight: char, position: &mut usize| {
        *position = (*position + 1).min(MAX_POSITION);
        let at = words.entry(word).or_default();
        if at.len() < MAX_POSITIONS_PER_WORD {
            at.push((*position, weight));
        }
    };
    let mut field = |text: &str, weight: char, position: &mut usize| {
        for word in index_words(text) {
            add(word, weight, position);
        }
    };
    field(doc.title, 'A', &mut position);
    for kp in &doc.knowledge_points {
        field(kp, 'B', &mut position);
    }
    field(doc.series, 'B', &mut position);
    for tag in &doc.tags {
        field(tag, 'B', &mut position);
    }
    field(doc.teacher, 'C', &mut position);
    field(doc.description, 'D', &mut position);
    // Each Chinese character of the title on its own, low: a one-character
    // query then ranks lessons with it in the title first.
    let title = normalise(doc.title);
    for c in title.chars().filter(|c| is_han(*c)) {
        let word = c.to_string();
        if !STOP_WORDS.contains(&word.as_str()) {
            add(word, 'C', &mut position);
        }
    }
    let tsvector = words
        .iter()
        .map(|(word, at)| {
            let positions: Vec<String> = at.iter().map(|(p, w)| format!("{p}{w}")).collect();
            format!("{}:{}", quote(word), positions.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = vec![doc.title, doc.series, doc.teacher, doc.description];
    text.extend(doc.knowledge_points.iter().copied());
    text.extend(doc.tags.iter().copied());
    Indexed {
        tsvector,
        text: normalise(&text.join("\n")),
    }
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
    /// Every word must match (`&`); Latin words match as prefixes.
    /// Empty when the query has no word (only stop words): then only
    /// `patterns` find lessons.
    pub tsquery: String,
    /// `LIKE` patterns on the normalised text, all of which must match: the
    /// substring fallback for what the segmenter cut differently.
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
    let tsquery = terms
        .iter()
        .filter(|t| is_word(t))
        .map(|t| {
            if t.chars().all(|c| c.is_ascii_alphanumeric()) {
                format!("{}:*", quote(t))
            } else {
                quote(t)
            }
        })
        .collect::<Vec<_>>()
        .join(" & ");
    let patterns = terms
        .iter()
        .map(|t| format!("%{}%", escape_like(t)))
        .collect();
    Some(Query {
        terms,
        tsquery,
        patterns,
    })
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
        assert_eq!(q.tsquery, "'python':* & '编程'");
        assert!(words("Python编程入门").contains(&"python".to_string()));
    }

    #[test]
    fn a_query_becomes_words_and_substring_patterns() {
        let q = parse_query("分数 加减法").unwrap();
        assert_eq!(q.terms, vec!["分数", "加减法"]);
        assert_eq!(q.tsquery, "'分数' & '加减法'");
        assert_eq!(q.patterns, vec!["%分数%", "%加减法%"]);
        // A single character is a term, searched as a substring too.
        let one = parse_query("圆").unwrap();
        assert_eq!(one.patterns, vec!["%圆%"]);
        // Only a stop word: nothing for the tsvector, the substring still.
        let stop = parse_query("的").unwrap();
        assert_eq!(stop.tsquery, "");
        assert_eq!(stop.patterns, vec!["%的%"]);
        assert_eq!(parse_query("  ，。!"), None);
        // LIKE's wildcards in a query are literal.
        assert_eq!(parse_query("100%").unwrap().patterns, vec!["%100\\%%"]);
    }

    #[test]
    fn quotes_cannot_break_out_of_a_lexeme() {
        // jieba cuts punctuation off, but a lexeme is quoted whatever it holds.
        assert_eq!(quote("it's"), "'it''s'");
        assert_eq!(quote("a\\b"), "'a\\\\b'");
        let q = parse_query("o'clock").unwrap();
        assert_eq!(q.tsquery, "'o':* & 'clock':*");
    }

    #[test]
    fn the_index_weights_title_above_description_and_keeps_title_characters() {
        let indexed = index(&Document {
            title: "认识分数",
            description: "分数的加减法练习",
            teacher: "李老师",
            ..Default::default()
        });
        let v = &indexed.tsvector;
        assert!(
            v.contains("'分数':") && v.contains('A') && v.contains('D'),
            "{v}"
        );
        assert!(v.contains("'认':"), "title characters: {v}");
        assert!(!v.contains("'练':"), "description characters are not: {v}");
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
