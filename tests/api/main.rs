//! Integration tests: the real HTTP app against a real PostgreSQL.

mod helpers;

mod activities;
mod activity_list;
mod auth;
mod changes;
mod clients;
mod collaborations;
mod compression;
mod consumers;
mod contract;
mod cors;
mod crud;
mod downloads;
mod errors;
mod faults;
mod follow_ups;
mod migrations;
mod openapi;
mod reports;
mod robustness;
mod seed;
