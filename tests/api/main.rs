//! Integration tests: the real HTTP app against a real PostgreSQL.

mod helpers;

mod activities;
mod activity_list;
mod auth;
mod board;
mod changes;
mod chase;
mod clients;
mod collaborations;
mod contract;
mod crud;
mod downloads;
mod errors;
mod faults;
mod follow_ups;
mod migrations;
mod openapi;
mod reports;
mod reviews;
mod robustness;
mod seed;
