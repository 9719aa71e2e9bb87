-- Browsing the library pages through lessons in one order: newest first
-- (`published_at DESC NULLS LAST, updated_at DESC, id`, see
-- catalog::library::browse), or most viewed first then newest. The first
-- indexes had `published_at DESC` alone, which sorts NULLs first and has
-- no tie-breakers, so PostgreSQL could not read a page off them and sorted
-- every matching lesson instead: 1.4 s for the first page of the whole
-- library at 1,000,000 lessons (benches/library_search.sh), 5.5 ms with
-- these. They end in the whole order, so a page is the next rows of one
-- index whatever the catalogue's size.
DROP INDEX micro_lessons_published_subject;
DROP INDEX micro_lessons_published_newest;
DROP INDEX micro_lessons_published_views;
DROP INDEX micro_lessons_featured;
DROP INDEX micro_lessons_school;
DROP INDEX micro_lessons_series;

CREATE INDEX micro_lessons_published_newest
    ON micro_lessons (published_at DESC NULLS LAST, updated_at DESC, id) WHERE state = 'published';
CREATE INDEX micro_lessons_published_views
    ON micro_lessons (view_count DESC, published_at DESC NULLS LAST, updated_at DESC, id)
    WHERE state = 'published';
CREATE INDEX micro_lessons_published_subject
    ON micro_lessons (subject_id, published_at DESC NULLS LAST, updated_at DESC, id)
    WHERE state = 'published';
CREATE INDEX micro_lessons_published_subject_grade
    ON micro_lessons (subject_id, grade_id, published_at DESC NULLS LAST, updated_at DESC, id)
    WHERE state = 'published';
CREATE INDEX micro_lessons_published_edition
    ON micro_lessons (edition_id, chapter, published_at DESC NULLS LAST, updated_at DESC, id)
    WHERE state = 'published';
CREATE INDEX micro_lessons_published_series
    ON micro_lessons (series, published_at DESC NULLS LAST, updated_at DESC, id)
    WHERE state = 'published' AND series <> '';
CREATE INDEX micro_lessons_featured
    ON micro_lessons (published_at DESC NULLS LAST, updated_at DESC, id) WHERE featured;
-- Not only published: a school's lessons in every state are listed too.
CREATE INDEX micro_lessons_school
    ON micro_lessons (school_id, published_at DESC NULLS LAST, updated_at DESC, id);
