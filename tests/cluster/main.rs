//! Several real `adieu serve` processes sharing one database: the promise that a logout's
//! 200 means no node accepts the session any more, under repetition, faults and crashes.

mod node;

mod admin;
mod faults;
mod forward_auth;
mod oauth;
mod promise;
mod restart;
