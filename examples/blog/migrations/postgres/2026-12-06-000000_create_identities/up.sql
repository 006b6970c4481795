-- Who an OAuth access token stands for: its issuer and subject (stable and unique per
-- issuer, unlike a display name), mapped to the author they write as.
CREATE TABLE identities (
    id SERIAL PRIMARY KEY,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    UNIQUE (issuer, subject)
);
