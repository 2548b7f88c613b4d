//! The CRMs where the sales team works (issue #18): Bitrix24 (and, next, amoCRM) reached over
//! their REST APIs.

pub mod bitrix24;
#[doc(hidden)]
pub mod standin;
