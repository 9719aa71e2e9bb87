-- A generated micro-lesson catalogue for benches/library_search.sh: :n
-- lessons with titles and descriptions as a school group writes them
-- (a topic of the subject, a kind of lesson, a class period), spread over
-- 20 schools, every subject, grade and edition, with teachers, series,
-- tags, view counts and one knowledge point each. The search columns are
-- left empty: `classcast reindex-library` writes them, through the same
-- segmenter as production.
--
--   psql "$DATABASE_URL" -v n=1000000 -f benches/library_catalogue.sql

\set ON_ERROR_STOP on
BEGIN;

CREATE TEMP TABLE topics (subject text, topic text, point text);
INSERT INTO topics VALUES
  ('math','认识分数的加减法','分数的加减法'), ('math','分数的初步认识','分数'),
  ('math','小数的意义和读写','小数'), ('math','三角形的面积','三角形'),
  ('math','平行四边形的面积','平行四边形'), ('math','圆的周长与面积','圆'),
  ('math','鸡兔同笼问题','鸡兔同笼'), ('math','百分数的应用','百分数'),
  ('math','比和比例','比例'), ('math','解简易方程','方程'),
  ('math','长方体和正方体的体积','长方体'), ('math','20以内的进位加法','加法'),
  ('math','表内乘法口诀','乘法口诀'), ('math','勾股定理的证明','勾股定理'),
  ('math','一元二次方程的解法','一元二次方程'), ('math','函数的图像与性质','函数'),
  ('math','植树问题','植树问题'), ('math','统计与概率初步','概率'),
  ('chinese','古诗《春晓》朗读与赏析','古诗'), ('chinese','《静夜思》','古诗'),
  ('chinese','记叙文的写作方法','记叙文'), ('chinese','汉语拼音 ɑ o e','拼音'),
  ('chinese','汉字的笔画与笔顺','汉字'), ('chinese','成语故事《守株待兔》','成语'),
  ('chinese','《草船借箭》','古典名著'), ('chinese','说明文的阅读','说明文'),
  ('chinese','文言文《论语》十二章','文言文'), ('chinese','整本书阅读《西游记》','整本书阅读'),
  ('english','Unit 3 My School','单词'), ('english','26个英文字母','字母'),
  ('english','一般现在时','一般现在时'), ('english','现在进行时','现在进行时'),
  ('english','English Reading: The Lion and the Mouse','阅读理解'), ('english','自然拼读 Phonics','自然拼读'),
  ('physics','牛顿第一定律','牛顿运动定律'), ('physics','串联电路和并联电路','电路'),
  ('physics','光的折射','光学'), ('physics','浮力与阿基米德原理','浮力'),
  ('physics','测量小灯泡的电功率','电功率'), ('chemistry','氧气的实验室制取','氧气'),
  ('chemistry','酸和碱的中和反应','酸碱'), ('chemistry','化学方程式的书写','化学方程式'),
  ('biology','光合作用','光合作用'), ('biology','细胞的结构','细胞'),
  ('biology','人体的血液循环','血液循环'), ('history','秦统一中国','秦朝'),
  ('history','丝绸之路','丝绸之路'), ('history','辛亥革命','近代史'),
  ('geography','地球的自转与公转','地球运动'), ('geography','中国的气候','气候'),
  ('science','植物的一生','植物'), ('science','水的三态变化','水'),
  ('science','声音的传播','声音'), ('science','磁铁的性质','磁铁'),
  ('it','Python编程入门：循环','Python'), ('it','Scratch动画制作','Scratch'),
  ('it','网络安全与个人信息保护','网络安全'), ('it','认识人工智能','人工智能'),
  ('music','认识节奏与节拍','节奏'), ('music','歌曲《茉莉花》','歌唱'),
  ('art','水彩画的调色','水彩'), ('art','剪纸艺术','剪纸'),
  ('pe','立定跳远','跳远'), ('pe','篮球运球','篮球'),
  ('morality','垃圾分类从我做起','垃圾分类'), ('morality','认识交通安全标志','交通安全'),
  ('calligraphy','楷书的基本笔画','楷书'), ('labor','整理自己的书包','整理'),
  ('psychology','学会管理情绪','情绪管理'), ('research','走进焦作：家乡的太极拳','乡土文化');

-- Word lists, picked from by each lesson's number.
CREATE TEMP TABLE w AS SELECT
  ARRAY['新授课','复习课','练习课','实验演示','易错题讲解','拓展探究','微课精讲','情境导入','思维导图','课堂实录'] AS kinds,
  ARRAY['（第一课时）','（第二课时）','（第三课时）','','',''] AS periods,
  ARRAY['动手操作','小组合作','生活实例','动画演示','分层练习','游戏闯关','实验观察','问题驱动'] AS methods,
  ARRAY['理解并掌握','初步认识','熟练运用','归纳总结','体验和感受','比较辨析'] AS goals,
  ARRAY['七彩阅读课程','"走进焦作"乡土课程','七彩假日课程','名师课堂','专递课堂精选',
        '','','','','','','','','','','','','','',''] AS series,
  ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴','徐','孙','马','朱','胡','郭','何','林','高','罗'] AS surnames,
  ARRAY['芳','伟','娜','敏','静','丽','强','磊','洋','艳','勇','军','杰','娟','涛','明','超','秀英','桂兰','建华'] AS given,
  ARRAY['重点','难点','易错题','期末复习','中考','小升初','趣味','实验','双减','作业设计'] AS tags;

CREATE TEMP TABLE topic_n AS
  SELECT row_number() OVER (ORDER BY subject, topic)::int AS n, t.*, s.id AS subject_id
  FROM topics t JOIN subjects s ON s.code = t.subject;

-- 20 schools: 12 campuses of the group, 8 partner schools.
INSERT INTO schools (id, name, kind)
SELECT gen_random_uuid(),
       CASE WHEN i <= 12 THEN '实验学校 第' || i || '校区' ELSE '山区小学 ' || (i - 12) || ' 号' END,
       (CASE WHEN i <= 12 THEN 'campus' ELSE 'partner' END)::school_kind
FROM generate_series(1, 20) i;
CREATE TEMP TABLE school_n AS
  SELECT row_number() OVER (ORDER BY name)::int AS n, id FROM schools WHERE name ~ '^(实验学校|山区小学) ';

-- One knowledge point per topic and grade.
CREATE TEMP TABLE grade_n AS SELECT row_number() OVER (ORDER BY position)::int AS n, id FROM grades;
CREATE TEMP TABLE edition_n AS SELECT row_number() OVER (ORDER BY position)::int AS n, id FROM editions;
-- (Two topics may share a point: siblings have distinct names.)
CREATE TEMP TABLE points AS
  SELECT gen_random_uuid() AS id, point, subject_id, grade_id
  FROM (SELECT DISTINCT t.point, t.subject_id, g.id AS grade_id FROM topic_n t CROSS JOIN grade_n g) d;
INSERT INTO knowledge_points (id, subject_id, grade_id, name)
  SELECT id, subject_id, grade_id, point FROM points;
CREATE TEMP TABLE point_n AS
  SELECT t.n AS topic, g.n AS grade, p.id
  FROM topic_n t CROSS JOIN grade_n g
  JOIN points p ON p.point = t.point AND p.subject_id = t.subject_id AND p.grade_id = g.id;

CREATE TEMP TABLE gen AS
SELECT i, gen_random_uuid() AS id,
       (1 + (i::bigint * 7919) % (SELECT count(*) FROM topic_n))::int AS topic,
       1 + (i / 70) % (SELECT count(*) FROM grade_n)::int AS grade,
       1 + (i * 31) % (SELECT count(*) FROM edition_n)::int AS edition,
       1 + (i * 13) % 20 AS school,
       i % 1000 AS permille
FROM generate_series(1, :n) i;

INSERT INTO micro_lessons (id, title, description, subject_id, grade_id, edition_id, chapter, series,
                           tags, teacher_name, school_id, visibility, state, featured, view_count,
                           created_at, updated_at, published_at)
SELECT g.id,
       t.topic || ' · ' || w.kinds[1 + g.i % 10] || w.periods[1 + g.i % 6],
       '本节微课通过' || w.methods[1 + g.i % 8] || '，帮助学生' || w.goals[1 + (g.i / 8) % 6]
         || '“' || t.point || '”。课后请完成学习任务单上的检测习题，并把你的想法和同学交流。',
       t.subject_id, gr.id, e.id,
       '第' || (1 + g.i % 8) || '单元',
       w.series[1 + g.i % 20],
       ARRAY[w.tags[1 + g.i % 10]],
       w.surnames[1 + g.i % 20] || w.given[1 + (g.i / 20) % 20],
       s.id,
       (ARRAY['group', 'partners', 'school'])[1 + g.i % 3],
       CASE WHEN g.permille < 950 THEN 'published' ELSE 'draft' END,
       g.permille < 5,
       (g.i::bigint * 2654435761) % 5000,
       now() - make_interval(mins => g.i % 1000000),
       now() - make_interval(mins => g.i % 1000000),
       CASE WHEN g.permille < 950 THEN now() - make_interval(mins => g.i % 1000000) END
FROM gen g
CROSS JOIN w
JOIN topic_n t ON t.n = g.topic
JOIN grade_n gr ON gr.n = g.grade
JOIN edition_n e ON e.n = g.edition
JOIN school_n s ON s.n = g.school;

INSERT INTO micro_lesson_knowledge_points (lesson_id, knowledge_point_id)
SELECT g.id, p.id FROM gen g JOIN point_n p ON p.topic = g.topic AND p.grade = g.grade;
COMMIT;
ANALYZE micro_lessons;
ANALYZE micro_lesson_knowledge_points;
