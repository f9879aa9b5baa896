//! Exact token attribution over infini-gram compatible suffix arrays (issue 4).
