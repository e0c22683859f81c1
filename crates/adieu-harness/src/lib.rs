//! What Adieu's benchmark (`adieu-bench`) and soak (`adieu-soak`) share, so that each has one
//! copy of it: child processes such as `adieu serve`, started with their addresses read from
//! their first lines and always stopped; throwaway PostgreSQL databases, dropped at the end;
//! readings of `/proc`, and a watcher of the other processes on the machine; the machine and
//! the command line, as their reports state them; and the merging of their sections into one
//! report file.

mod machine;
pub mod markdown;
mod postgres;
mod process;
pub mod procfs;
mod watch;

pub use machine::{Machine, command_line, now_utc};
pub use postgres::{Postgres, with_database};
pub use process::{Process, sibling};
pub use watch::{OtherLoad, PartLoad, QUIET_CORES, Watcher};
