//! Why a jump host chain (`ansible_ssh_common_args`' ProxyJump, `jump`, ~/.ssh/config) does not parse: the
//! whole list, or one hop of it, quoted so the typo can be found.

/// A jump chain that does not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JumpChainError {
    #[error("the jump host list is empty")]
    Empty,
    #[error("jump host `{hop}`: {why}")]
    Hop { hop: String, why: BadHop },
}

/// What is wrong with one hop, `user@host:port`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BadHop {
    #[error("empty (two commas in a row, or a trailing comma?)")]
    Empty,
    #[error("nothing before `@`")]
    NoUser,
    #[error("`[` without `]`")]
    UnclosedBracket,
    #[error("unexpected `{0}` after `]`")]
    AfterBracket(String),
    #[error("no host name")]
    NoHost,
    #[error("`{0}` is not a host name")]
    NotAHostName(String),
    #[error("`{0}` is not a port number (1-65535)")]
    NotAPort(String),
}
