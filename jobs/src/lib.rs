//! Named, idempotent scheduled jobs and the scheduler that runs them once per tick across all processes.
//!
//! Empty until the appointments-and-scheduler issue: the crate exists so the crate graph (`service <- jobs <- api`)
//! is in place from the start.
