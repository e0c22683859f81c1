//! The API suite uses the workspace's one test server.

pub(crate) use adieu_server::test_support::{
    Backend, Login, PASSWORD, TestServer as TestApp, assert_error,
};
