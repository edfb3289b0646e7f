//! Integration tests: the real `strata` binary, real HTTP, a real database (SQLite, or
//! PostgreSQL when `DATABASE_URL` is set). One test binary, one module per concern.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod console;
mod data_cluster;
mod durability;
mod gateway;
mod gguf_tokenizer;
mod greedy_parity;
mod harness;
mod inference;
mod jobs;
mod journey;
mod meta;
mod openai_client;
mod sim_parity;
mod tenancy;
mod tiny_model;
