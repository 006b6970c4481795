-- Who an OAuth access token stands for: its issuer and subject (stable and unique per
-- issuer, unlike a display name), mapped to the author they write as.
CREATE TABLE identities (
    id INTEGER PRIMARY KEY NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (issuer, subject)
);
