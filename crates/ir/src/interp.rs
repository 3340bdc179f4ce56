//! Tape interpreter (placeholder until implemented).
