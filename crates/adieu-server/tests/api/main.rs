//! Integration tests of the JSON API: a real server on port 0 with its own database (a
//! SQLite file, or a fresh PostgreSQL database), driven over HTTP.

mod helpers;

mod admin;
mod attacks;
mod input;
mod libraries;
mod logout;
mod metrics;
mod oauth;
mod openapi;
mod refresh;
mod sessions;
mod storage;
mod timeouts;

/// Runs each behaviour test against SQLite, and against PostgreSQL when one is given.
macro_rules! on_both_backends {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::helpers::Backend::Sqlite.run(crate::$module::$test()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
                async fn $test() {
                    crate::helpers::Backend::Postgres.run(crate::$module::$test()).await;
                }
            )*
        }
    };
}

on_both_backends! {
    admin::admin_calls_need_a_live_key_and_exist_only_on_the_operators_listener,
    admin::failed_admin_keys_are_rate_limited_per_ip,
    admin::users_are_listed_in_pages_and_shown_with_their_sessions,
    admin::an_admin_logout_ends_every_session_of_the_user_and_is_audited_with_the_key,
    admin::an_admin_ends_one_session_of_anyone,
    admin::a_disabled_account_refuses_its_tokens_its_cookie_and_new_logins,
    admin::an_admin_deletes_a_user_and_only_one_event_remains,
    admin::the_audit_log_is_filtered_by_user_kind_and_time,
    admin::a_user_deletes_their_own_account_with_their_password,
    admin::each_user_sees_only_their_own_activity,
    admin::a_session_that_times_out_shows_in_its_owners_activity,
    attacks::a_login_past_the_session_cap_ends_the_oldest_session,
    attacks::audit_events_past_their_retention_are_deleted,
    attacks::one_ip_guessing_a_password_cannot_lock_the_user_out_elsewhere,
    input::registration_validates_names_and_password_lengths,
    input::an_unknown_user_and_a_wrong_password_get_the_same_answer,
    input::malformed_bodies_get_a_clear_4xx_never_a_5xx,
    input::hostile_authorization_headers_are_refused_with_401,
    input::every_response_forbids_caching,
    input::a_request_that_times_out_still_forbids_caching,
    input::login_attempts_are_rate_limited_per_username_and_per_ip,
    input::a_saturated_hasher_answers_429_with_retry_after_instead_of_queueing,
    logout::after_logout_every_credential_of_the_session_is_refused,
    oauth::clients_are_created_listed_and_deleted_with_only_a_hash_stored,
    oauth::a_live_token_is_active_with_its_identity_and_anything_else_is_only_inactive,
    oauth::a_disabled_users_tokens_are_inactive,
    oauth::introspection_needs_client_credentials_by_exactly_one_method,
    oauth::failed_client_authentications_are_rate_limited,
    oauth::revoking_either_token_ends_the_whole_session_and_unknown_tokens_get_200,
    oauth::the_metadata_says_where_the_endpoints_are,
    logout::logout_is_idempotent_and_says_nothing_about_the_token,
    logout::logout_with_an_expired_access_token_still_ends_the_session,
    logout::logout_with_the_refresh_token_in_the_body_ends_the_session,
    logout::logout_without_a_credential_or_with_a_malformed_one_is_401,
    logout::logout_is_audited,
    logout::no_request_started_after_logout_returns_succeeds,
    refresh::a_refresh_rotates_both_tokens_within_the_same_session,
    refresh::a_refresh_token_reused_after_rotation_revokes_the_session,
    refresh::an_access_token_is_not_a_refresh_token_and_vice_versa,
    refresh::concurrent_refreshes_of_one_token_end_the_session,
    sessions::logout_all_ends_the_sessions_of_every_device,
    sessions::the_session_list_shows_live_sessions_and_marks_the_current_one,
    sessions::a_user_can_end_one_of_their_own_sessions_but_not_someone_elses,
    sessions::a_password_change_ends_the_other_sessions_and_keeps_this_one,
    sessions::a_wrong_current_password_changes_nothing,
    sessions::every_session_event_reaches_the_audit_log,
    sessions::guessing_the_current_password_is_rate_limited_like_login,
    timeouts::an_access_token_expires_but_its_refresh_token_still_works,
    timeouts::an_idle_session_ends_and_its_refresh_token_with_it,
    timeouts::activity_keeps_a_session_alive_until_its_absolute_end,
    timeouts::access_tokens_never_outlive_the_absolute_lifetime,
    timeouts::activity_is_recorded_at_most_once_per_granularity,
    timeouts::reads_alone_keep_a_session_from_going_idle,
    timeouts::ended_sessions_are_deleted_in_batches,
}
