//! Who may apply a kept plan (issue #17 §2): per kind of plan, its maker at once, or after a
//! proposal any admin, or an admin other than the one who proposed it. A small company lets one
//! person do both; a larger one wants four eyes on a new scheme. The server is configured with
//! [`Approval::parse`]; the screens ask [`Approval::may_apply`] and [`Approval::may_decide`].

use std::collections::BTreeMap;

use allot_i18n::Message;
use allot_store::{PlanKind, PlanRecord, PlanState};

/// Who applies a plan of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approver {
    /// Whoever made it (a manager their team's absence) or any admin applies it at once.
    Maker,
    /// It is proposed with a comment; any admin approves it, the proposer too.
    Admin,
    /// It is proposed; an admin other than the proposer approves it.
    OtherAdmin,
}

impl Approver {
    pub fn as_str(self) -> &'static str {
        match self {
            Approver::Maker => "maker",
            Approver::Admin => "admin",
            Approver::OtherAdmin => "other-admin",
        }
    }
    fn parse(s: &str) -> Option<Approver> {
        [Approver::Maker, Approver::Admin, Approver::OtherAdmin].into_iter().find(|a| a.as_str() == s)
    }
}

/// The approval policy: an approver per kind of plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    by_kind: BTreeMap<PlanKind, Approver>,
}

impl Default for Approval {
    /// A manager applies their team's absences and leavers; the API's plans are applied by the
    /// integration that made them; an import, a scheme and territories are proposed and approved
    /// by an admin (the proposer may be that admin).
    fn default() -> Approval {
        let by_kind = PlanKind::ALL
            .into_iter()
            .map(|k| (k, if matches!(k, PlanKind::Team | PlanKind::Api) { Approver::Maker } else { Approver::Admin }))
            .collect();
        Approval { by_kind }
    }
}

/// The person acting: their login (as the history names them) and workspace role.
pub struct Person<'a> {
    pub by: &'a str,
    pub role: &'a str,
}

impl Approval {
    /// `scheme=other-admin,import=admin`: the defaults changed for the kinds named.
    pub fn parse(spec: &str) -> Result<Approval, String> {
        let mut a = Approval::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, who) = part.split_once('=').ok_or_else(|| format!("`{part}` is not KIND=WHO (e.g. scheme=other-admin)"))?;
            let kinds: Vec<PlanKind> = match kind.trim() {
                "all" => PlanKind::ALL.to_vec(),
                k => vec![PlanKind::parse(k)
                    .ok_or_else(|| format!("unknown kind of plan `{k}`; expected all, team, import, scheme, territories or api"))?],
            };
            let who = Approver::parse(who.trim())
                .ok_or_else(|| format!("unknown approver `{}` for {}; expected maker, admin or other-admin", who.trim(), kind.trim()))?;
            for k in kinds {
                a.by_kind.insert(k, who);
            }
        }
        Ok(a)
    }

    pub fn of(&self, kind: PlanKind) -> Approver {
        self.by_kind.get(&kind).copied().unwrap_or(Approver::Admin)
    }

    /// The policy as `parse` reads it.
    pub fn spec(&self) -> String {
        self.by_kind.iter().map(|(k, a)| format!("{}={}", k.as_str(), a.as_str())).collect::<Vec<_>>().join(",")
    }

    /// Whether this person sees the plan: an admin every plan, anyone the plans they made.
    pub fn may_see(&self, plan: &PlanRecord, who: &Person<'_>) -> bool {
        who.role == "admin" || plan.made_by == who.by
    }

    /// Whether the plan must be proposed before it is applied.
    pub fn needs_proposal(&self, kind: PlanKind) -> bool {
        self.of(kind) != Approver::Maker
    }

    /// Whether this person may propose the plan now: its maker or an admin, while it is made.
    pub fn may_propose(&self, plan: &PlanRecord, who: &Person<'_>) -> Result<(), Message> {
        if plan.state != PlanState::Made {
            return Err(state_refusal(plan));
        }
        if !self.may_see(plan, who) {
            return Err(Message::new("refused-plan-not-yours"));
        }
        Ok(())
    }

    /// Whether this person may apply the plan now (approving it, when it was proposed).
    pub fn may_apply(&self, plan: &PlanRecord, who: &Person<'_>) -> Result<(), Message> {
        let admin = who.role == "admin";
        match (self.of(plan.kind), plan.state) {
            (Approver::Maker, PlanState::Made | PlanState::Proposed) if admin || plan.made_by == who.by => Ok(()),
            (Approver::Maker, PlanState::Made | PlanState::Proposed) => Err(Message::new("refused-plan-not-yours")),
            (_, PlanState::Made) => Err(Message::new("refused-plan-propose-first")),
            (_, PlanState::Proposed) if !admin => Err(Message::new("refused-plan-admin")),
            (Approver::OtherAdmin, PlanState::Proposed) if plan.proposed_by.as_deref() == Some(who.by) => {
                Err(Message::new("refused-plan-other-admin"))
            }
            (_, PlanState::Proposed) => Ok(()),
            _ => Err(state_refusal(plan)),
        }
    }

    /// Whether this person may reject the plan: an admin, or the one who made or proposed it
    /// (withdrawing it), while it is not decided.
    pub fn may_reject(&self, plan: &PlanRecord, who: &Person<'_>) -> Result<(), Message> {
        if !matches!(plan.state, PlanState::Made | PlanState::Proposed) {
            return Err(state_refusal(plan));
        }
        if who.role == "admin" || plan.made_by == who.by || plan.proposed_by.as_deref() == Some(who.by) {
            Ok(())
        } else {
            Err(Message::new("refused-plan-admin"))
        }
    }
}

fn state_refusal(plan: &PlanRecord) -> Message {
    let key = match plan.state {
        PlanState::Made => "refused-plan-made",
        PlanState::Proposed => "refused-plan-proposed",
        PlanState::Applied => "refused-plan-applied",
        PlanState::Rejected => "refused-plan-rejected",
    };
    Message::new(key).text("id", &plan.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(kind: PlanKind, state: PlanState, made_by: &str, proposed_by: Option<&str>) -> PlanRecord {
        PlanRecord {
            id: "p".into(),
            kind,
            state,
            title: String::new(),
            made_by: made_by.into(),
            made_at: String::new(),
            proposed_by: proposed_by.map(str::to_string),
            proposed_at: None,
            comment: String::new(),
            decided_by: None,
            decided_at: None,
            decision: String::new(),
            change: None,
        }
    }

    const ANNA: Person<'static> = Person { by: "user:anna", role: "admin" };
    const BORIS: Person<'static> = Person { by: "user:boris", role: "admin" };
    const MARIA: Person<'static> = Person { by: "user:maria", role: "manager" };

    #[test]
    fn four_eyes_when_configured_one_pair_by_default() {
        let key = |r: Result<(), Message>| r.err().map(|m| m.key);
        let scheme = plan(PlanKind::Scheme, PlanState::Proposed, "user:anna", Some("user:anna"));
        let default = Approval::default();
        assert_eq!(key(default.may_apply(&scheme, &ANNA)), None, "a small company: the proposer approves");
        assert_eq!(key(default.may_apply(&scheme, &MARIA)), Some("refused-plan-admin"));
        let strict = Approval::parse("scheme=other-admin").unwrap();
        assert_eq!(key(strict.may_apply(&scheme, &ANNA)), Some("refused-plan-other-admin"));
        assert_eq!(key(strict.may_apply(&scheme, &BORIS)), None);
        let made = plan(PlanKind::Scheme, PlanState::Made, "user:anna", None);
        assert_eq!(key(strict.may_apply(&made, &BORIS)), Some("refused-plan-propose-first"));

        let team = plan(PlanKind::Team, PlanState::Made, "user:maria", None);
        assert_eq!(key(default.may_apply(&team, &MARIA)), None, "a manager applies their team's plan");
        assert_eq!(key(default.may_apply(&team, &Person { by: "user:olga", role: "manager" })), Some("refused-plan-not-yours"));
        let all = Approval::parse("all=other-admin").unwrap();
        assert_eq!(key(all.may_apply(&team, &MARIA)), Some("refused-plan-propose-first"));
        assert_eq!(key(all.may_propose(&team, &MARIA)), None);
        assert_eq!(key(all.may_reject(&team, &MARIA)), None, "the maker withdraws it");

        let done = plan(PlanKind::Scheme, PlanState::Applied, "user:anna", Some("user:anna"));
        assert_eq!(key(default.may_apply(&done, &BORIS)), Some("refused-plan-applied"));
        assert_eq!(key(default.may_reject(&done, &BORIS)), Some("refused-plan-applied"));
    }

    #[test]
    fn a_bad_policy_says_what_was_expected() {
        assert!(Approval::parse("schem=admin").unwrap_err().contains("expected all, team"));
        assert!(Approval::parse("scheme=boss").unwrap_err().contains("maker, admin or other-admin"));
        assert!(Approval::parse("scheme").unwrap_err().contains("KIND=WHO"));
        assert_eq!(Approval::parse(&Approval::default().spec()).unwrap(), Approval::default());
    }
}
