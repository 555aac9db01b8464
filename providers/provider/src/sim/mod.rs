//! What both provider simulators share (feature `sim`): fault rules, and the control API
//! under `/_sim` that lets a test or a demo list, move and replay payments without credentials.

pub mod control;
pub mod faults;

pub use control::{Control, ControlOutcome, StatusLabel};
pub use faults::{FaultRule, Faults};
