//! Apply: a saved plan landed exactly, all or nothing.

use super::*;

/// Lands a saved plan exactly, all or nothing; the store refuses it if anything changed since.
pub fn apply(store: &mut dyn Store, plan: &Plan, actor: &Actor) -> Result<Applied, AppError> {
    apply_decided(store, plan, None, actor)
}

/// [`apply`] of a kept plan, marked applied with who decided and why in the same transaction.
pub fn apply_decided(
    store: &mut dyn Store,
    plan: &Plan,
    decided: Option<allot_store::Decision>,
    actor: &Actor,
) -> Result<Applied, AppError> {
    let _span = tracing::info_span!("apply").entered();
    let day = |s: &str| allot_rules::parse_iso_date(s).ok_or_else(|| AppError::Refused(format!("the plan holds a bad date `{s}`")));
    let mut closes = Vec::with_capacity(plan.closes.len());
    for (link, at) in &plan.closes {
        closes.push(Close { link: allot_store::LinkId(*link), at: allot_store::Day(day(at)?) });
    }
    let mut opens = Vec::with_capacity(plan.opens.len());
    for o in &plan.opens {
        opens.push(Open {
            client: allot_store::ClientKey(o.client),
            role: o.role.clone(),
            employee: allot_store::EmployeeKey(o.employee),
            from: allot_store::Day(day(&o.from)?),
            to: o.to.as_deref().map(day).transpose()?.map(allot_store::Day),
            cause: Cause::parse(&o.cause).map_err(|_| AppError::Refused(format!("the plan holds an unknown cause `{}`", o.cause)))?,
            rule: o.rule.clone(),
            scheme: Some(plan.scheme_version),
            note: o.note.clone(),
            absence: o.absence,
        });
    }
    let s = &plan.summary;
    let causes: Vec<String> = s.moves_by_cause.iter().map(|(c, n)| format!("{n} {c}")).collect();
    let causes = if causes.is_empty() { "none".to_string() } else { causes.join(", ") };
    let message = match &plan.new_scheme {
        Some(_) => allot_i18n::Message::new("summary-apply-scheme").count("version", plan.scheme_version),
        None => allot_i18n::Message::new("summary-apply"),
    };
    let date = allot_rules::parse_iso_date(&plan.date).unwrap_or_default();
    let message =
        message.day("date", date).count("opened", plan.opens.len() as i64).text("causes", causes).count("closed", plan.closes.len() as i64);
    let summary = allot_i18n::kept::encode(&[message]);
    let changes = Changes {
        base: plan.base_revision,
        scheme: plan.new_scheme.clone(),
        roles: plan.roles.iter().map(|r| (r.clone(), false)).collect(),
        closes,
        opens,
        absences: plan.absences.clone(),
        leavers: plan.leavers.clone(),
        summary,
        decided,
    };
    Ok(store.apply(&changes, actor)?)
}
