DROP TABLE audit_log;
DROP TABLE comments;
DROP TABLE posts;
DROP TABLE authors;
