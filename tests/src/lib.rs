//! Workspace-level tests live in `tests/`; the trybuild UI cases of the macros live in
//! `ui/fail` (one case per diagnostic, each with its expected `.stderr`) and `ui/pass`.

/// The README's code examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
