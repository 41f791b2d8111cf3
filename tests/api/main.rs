//! Integration tests: the real HTTP app against a real PostgreSQL.

mod helpers;

mod activities;
mod auth;
mod clients;
mod crud;
mod errors;
mod migrations;
mod openapi;
