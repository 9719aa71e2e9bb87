-- Chinese search at a million lessons (issue #11, benches/library_search.sh).
--
-- `search` now holds, beside the segmenter's words, every one- and
-- two-character gram of the lesson's text (library::search::grams, what
-- pg_bigm does; Debian packages no pg_bigm). A term of one or two
-- characters (分数, 春, 勾股, 王芳: most Chinese queries) is then one lookup
-- in the index on `search`, and a longer one the lookup of its grams,
-- checked against `search_text`. Before, such terms were matched with
-- `search_text LIKE '%term%'`, which pg_trgm's index cannot serve under
-- three characters: they read the whole table (2.7–10 s at 1,000,000
-- lessons). So the trigram index goes; `search_text` stays for the check.
--
-- `search_title` is the title's words and grams alone: a search lists the
-- lessons with every term in the title first, newest first, then the
-- others (catalog::library::browse). Ranking every match with ts_rank read
-- all of them: 43,000 rows for 分数, about 0.5 s. Nothing ranks by
-- positions or weights any more, so the application writes none.
--
-- Both are indexed with RUM (Debian: postgresql-15-rum; `make db` creates
-- the extension, which only a superuser may), with `published_at` stored
-- in the index beside each lesson's lexemes: the matches come out of the
-- index newest first, with no row read for those not on the page. A GIN
-- index can only give them in the table's order, and the page was then
-- sorted from every match's row (2,500 rows, 47 ms for a teacher's name).
--
-- The columns are written by the application: until
-- `classcast reindex-library` has run after this upgrade, lessons not
-- edited since are found by their words only, not by their grams, and none
-- is listed first by its title.
CREATE EXTENSION IF NOT EXISTS rum;

DROP INDEX micro_lessons_search_trgm;
DROP INDEX micro_lessons_search;
ALTER TABLE micro_lessons ADD COLUMN search_title tsvector NOT NULL DEFAULT ''::tsvector;
CREATE INDEX micro_lessons_search ON micro_lessons
    USING rum (search rum_tsvector_addon_ops, published_at)
    WITH (attach = 'published_at', to = 'search');
CREATE INDEX micro_lessons_search_title ON micro_lessons
    USING rum (search_title rum_tsvector_addon_ops, published_at)
    WITH (attach = 'published_at', to = 'search_title');
