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
mod compression;
mod conditional_gets;
mod consumers;
mod contract;
mod cors;
mod crud;
mod downloads;
mod errors;
mod faults;
mod follow_ups;
mod kept_lists;
mod migrations;
mod openapi;
mod replicas;
mod reports;
mod response_cache;
mod reviews;
mod robustness;
mod seed;
