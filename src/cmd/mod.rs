//! One module per subcommand group.

pub mod check;
pub mod generate;
pub mod generate_mv;
pub mod import;
pub mod log;
pub mod rig;
pub mod sim;
pub mod tokenizer;
pub mod train;
