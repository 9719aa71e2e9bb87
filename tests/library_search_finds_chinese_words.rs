//! Chinese full-text search over published micro-lessons: 分数 finds
//! 认识分数的加减法, words are found inside longer ones, mixed Chinese and
//! English and full-width letters work, a single character finds lessons
//! with it (in the title first), results are ranked title-first and the
//! matches come back marked and HTML-escaped.

mod common;

use std::collections::BTreeMap;

use common::library::{Group, ids, reviewer, teacher, teaching_group};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn chinese_queries_find_the_lessons_that_have_the_words() {
    let g = Group::start().await;
    let math = g.term("subjects", "math").await;
    let it = g.term("subjects", "it").await;
    let chinese = g.term("subjects", "chinese").await;
    let grade = g.term("grades", "g5").await;
    let author = g.person("chen_laoshi", &g.main, teacher()).await;
    let group = g
        .person("group", &g.main, teaching_group(&[&math, &it, &chinese]))
        .await;
    let school = g.person("school_rev", &g.main, reviewer("school")).await;
    let center = g
        .person("center_rev", &g.main, reviewer("resource_center"))
        .await;

    let seeds = [
        (
            "fractions",
            "认识分数的加减法",
            "通过折纸认识同分母分数的加减法。",
            &math,
        ),
        ("first", "分数的初步认识", "把一个整体平均分成几份。", &math),
        (
            "decimals",
            "小数的意义",
            "小数与分数的关系，以及小数的读写。",
            &math,
        ),
        ("adding", "20以内的进位加减法", "凑十法练习。", &math),
        ("pythagoras", "勾股定理的证明", "用赵爽弦图证明。", &math),
        (
            "python",
            "Python编程入门：循环",
            "用 Python 画出一棵分形树。",
            &it,
        ),
        (
            "poem",
            "古诗《春晓》朗读",
            "<b>孟浩然</b> & 春天的早晨。",
            &chinese,
        ),
    ];
    let mut id_of = BTreeMap::new();
    for (key, title, description, subject) in seeds {
        let id = g
            .draft(
                &author,
                json!({"title": title, "description": description, "subject_id": subject,
                       "grade_id": grade, "visibility": "group"}),
            )
            .await;
        g.publish(&author, [&group, &school, &center], &id).await;
        id_of.insert(key, id);
    }
    let name_of: BTreeMap<String, &str> = id_of.iter().map(|(k, v)| (v.clone(), *k)).collect();
    let search = |q: &'static str| {
        let (g, name_of) = (&g, &name_of);
        async move {
            let path = format!("/api/library/lessons?q={}", urlencode(q));
            let (status, page) = g.call(&g.root, Method::GET, &path, None).await;
            assert_eq!(status, 200, "{q}: {page}");
            let names: Vec<&str> = ids(&page).iter().map(|id| name_of[id]).collect();
            (names, page)
        }
    };
    let set = |mut v: Vec<&'static str>| {
        v.sort();
        v
    };
    let sorted = |v: &[&'static str]| set(v.to_vec());

    // 分数 inside 认识分数的加减法, and in a description, ranked after titles.
    let (found, page) = search("分数").await;
    assert_eq!(
        sorted(&found),
        set(vec!["decimals", "first", "fractions"]),
        "{page}"
    );
    assert_eq!(
        found[2], "decimals",
        "a description match ranks last: {found:?}"
    );
    let hit = &page["items"][0];
    assert!(
        hit["highlight"]["title"]
            .as_str()
            .unwrap()
            .contains("<mark>分数</mark>"),
        "{hit}"
    );
    assert!(hit["rank"].as_f64().unwrap() > page["items"][2]["rank"].as_f64().unwrap());

    let (found, _) = search("加减法").await;
    assert_eq!(sorted(&found), set(vec!["adding", "fractions"]));
    // Two words: both must be there.
    let (found, _) = search("分数 加减法").await;
    assert_eq!(found, vec!["fractions"]);

    // Mixed Chinese and English, and full-width letters.
    let (found, page) = search("Python 循环").await;
    assert_eq!(found, vec!["python"]);
    let (found, page_wide) = search("ＰＹＴＨＯＮ编程").await;
    assert_eq!(found, vec!["python"], "{page_wide}");
    assert_eq!(
        page_wide["items"][0]["highlight"]["title"], "<mark>Python编程</mark>入门：循环",
        "adjacent matches are one mark: {page}"
    );
    let (found, _) = search("pyth").await;
    assert_eq!(found, vec!["python"], "a word's beginning");

    // A part of a word and single characters.
    let (found, _) = search("勾股").await;
    assert_eq!(found, vec!["pythagoras"]);
    let (found, _) = search("春").await;
    assert_eq!(found, vec!["poem"]);
    let (found, page) = search("分").await;
    assert_eq!(
        sorted(&found),
        set(vec!["decimals", "first", "fractions", "python"]),
        "{page}"
    );
    assert!(
        set(found[..2].to_vec()) == set(vec!["first", "fractions"]),
        "titles with 分 first: {found:?}"
    );

    // Markup in a lesson is escaped; markup in a query finds nothing.
    let (found, page) = search("孟浩然").await;
    assert_eq!(found, vec!["poem"]);
    let snippet = page["items"][0]["highlight"]["description"]
        .as_str()
        .unwrap();
    assert_eq!(
        snippet,
        "&lt;b&gt;<mark>孟浩然</mark>&lt;/b&gt; &amp; 春天的早晨。"
    );
    let (found, _) = search("<script>alert(1)</script>").await;
    assert!(found.is_empty());

    // Filters narrow a search; most viewed and newest sort the rest.
    let path = format!("/api/library/lessons?q={}&subject_id={it}", urlencode("分"));
    let (_, page) = g.call(&g.root, Method::GET, &path, None).await;
    assert_eq!(ids(&page), vec![id_of["python"].clone()]);
    let (_, page) = g
        .call(
            &g.root,
            Method::GET,
            "/api/library/lessons?sort=newest&limit=2",
            None,
        )
        .await;
    assert_eq!(
        ids(&page),
        vec![id_of["poem"].clone(), id_of["python"].clone()]
    );
    assert_eq!(page["has_more"], true);
    let (_, page) = g
        .call(
            &g.root,
            Method::GET,
            "/api/library/lessons?offset=6&limit=2",
            None,
        )
        .await;
    assert_eq!(
        (ids(&page).len(), &page["has_more"]),
        (1, &Value::Bool(false))
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}
