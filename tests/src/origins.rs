//! Browser origins the API must accept for CORS, and must refuse: one list for the template's
//! `CorsAllowedOrigins` parameter and the local gateway's `CORS_ALLOWED_ORIGINS`.

/// Comma-separated lists both accept.
pub const ACCEPTED: &[&str] = &[
    "",
    "https://dashboard.example.com",
    "https://dashboard.example.com:8443",
    "https://a.example.com,http://localhost:5173",
    "http://127.0.0.1:3000",
    "http://[::1]:8080",
    "http://localhost",
];

/// Lists both refuse: wildcards, paths, missing schemes, spaces, and plain http to anything but
/// loopback.
pub const REFUSED: &[&str] = &[
    "*",
    "https://dashboard.example.com/",
    "dashboard.example.com",
    "https://a.example.com, https://b.example.com",
    "http://dashboard.example.com",
    "https://a.example.com,http://b.example.com",
    "http://localhost.example.com",
    "http://127.0.0.2",
    "http://10.0.0.1:3000",
    "ftp://localhost",
];
