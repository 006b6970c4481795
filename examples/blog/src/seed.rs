//! Realistic demo data, written on first start: 20 authors (the first two are the demo
//! users alice and bob), 1,200 posts, 3,000 comments, 15 tags and about 2,400 post tags.
//! Deterministic, so the tests can rely on it.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::Database;
use crate::schema::{authors, comments, post_tags, posts, tags};

const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "yara",
];
const TOPICS: &[&str] = &[
    "Rust",
    "Diesel",
    "Axum",
    "SQLite",
    "PostgreSQL",
    "agents",
    "MCP",
    "async",
    "testing",
    "types",
    "macros",
    "caching",
    "observability",
    "migrations",
    "security",
];
const VERBS: &[&str] = &["Understanding", "Shipping", "Debugging", "Scaling", "Testing", "Rethinking", "Teaching"];

/// Posts in the demo data.
pub const POSTS: i32 = 1200;
/// Comments in the demo data.
pub const COMMENTS: i32 = 3000;

/// A small deterministic generator (no dependency, same data everywhere).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Write the demo data unless the database already has authors; `true` if it did.
pub fn seed_if_empty(db: &Database) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let seeded = with_conn!(db, |conn| -> QueryResult<bool> {
        let existing: i64 = authors::table.count().get_result(conn)?;
        if existing > 0 {
            return Ok(false);
        }
        let start = NaiveDate::from_ymd_opt(2025, 1, 1).and_then(|d| d.and_hms_opt(9, 0, 0)).unwrap_or_default();
        let at = |hours: i64| -> NaiveDateTime { start + Duration::hours(hours) };
        conn.transaction(|conn| {
            let people: Vec<_> = NAMES
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    (
                        authors::id.eq(i as i32 + 1),
                        authors::name.eq(*name),
                        authors::email.eq(format!("{name}@example.com")),
                        authors::bio
                            .eq((i % 3 != 0).then(|| format!("{name} writes about {}.", TOPICS[i % TOPICS.len()]))),
                        authors::created_at.eq(at(i as i64)),
                    )
                })
                .collect();
            diesel::insert_into(authors::table).values(&people).execute(conn)?;

            let mut rng = Lcg(42);
            let mut rows = Vec::new();
            for id in 1..=POSTS {
                let author = (id - 1) % NAMES.len() as i32 + 1;
                let topic = TOPICS[rng.next(TOPICS.len())];
                let verb = VERBS[rng.next(VERBS.len())];
                // About one post in four is a draft.
                let published = rng.next(4) != 0;
                let created = at(24 + i64::from(id) * 7);
                rows.push((
                    posts::id.eq(id),
                    posts::author_id.eq(author),
                    posts::title.eq(format!("{verb} {topic}, part {}", id / 15 + 1)),
                    posts::body.eq(format!(
                        "Notes on {topic}. {verb} it taught us about {} and {}.",
                        TOPICS[rng.next(TOPICS.len())],
                        TOPICS[rng.next(TOPICS.len())]
                    )),
                    posts::published.eq(published),
                    posts::views.eq(if published { rng.next(5000) as i64 } else { 0 }),
                    posts::created_at.eq(created),
                    posts::published_at.eq(published.then(|| created + Duration::hours(2))),
                ));
            }
            for chunk in rows.chunks(200) {
                diesel::insert_into(posts::table).values(chunk).execute(conn)?;
            }

            let mut notes = Vec::new();
            for id in 1..=COMMENTS {
                let post = rng.next(POSTS as usize) as i32 + 1;
                notes.push((
                    comments::id.eq(id),
                    comments::post_id.eq(post),
                    comments::author_name.eq(NAMES[rng.next(NAMES.len())]),
                    comments::body.eq(format!("Thanks! The part on {} helped.", TOPICS[rng.next(TOPICS.len())])),
                    comments::created_at.eq(at(24 + i64::from(post) * 7 + 5 + i64::from(id % 50))),
                ));
            }
            for chunk in notes.chunks(300) {
                diesel::insert_into(comments::table).values(chunk).execute(conn)?;
            }

            // One tag per topic; each post filed under one to three of them.
            let names: Vec<_> = TOPICS
                .iter()
                .enumerate()
                .map(|(i, t)| (tags::id.eq(i as i32 + 1), tags::name.eq(t.to_lowercase())))
                .collect();
            diesel::insert_into(tags::table).values(&names).execute(conn)?;
            let mut links = Vec::new();
            for post in 1..=POSTS {
                let mut chosen: Vec<i32> = Vec::new();
                for _ in 0..=rng.next(3) {
                    let tag = rng.next(TOPICS.len()) as i32 + 1;
                    if !chosen.contains(&tag) {
                        chosen.push(tag);
                    }
                }
                for tag in chosen {
                    links.push((
                        post_tags::id.eq(links.len() as i32 + 1),
                        post_tags::post_id.eq(post),
                        post_tags::tag_id.eq(tag),
                    ));
                }
            }
            for chunk in links.chunks(300) {
                diesel::insert_into(post_tags::table).values(chunk).execute(conn)?;
            }
            Ok(true)
        })
    })?;
    Ok(seeded?)
}
