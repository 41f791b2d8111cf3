//! Integration tests: the real HTTP app against a real PostgreSQL.

mod helpers;

mod activities;
mod activity_list;
mod auth;
mod clients;
mod crud;
mod errors;
mod follow_ups;
mod migrations;
mod openapi;
mod robustness;
mod seed;
