# The workspace in English. Every key of ru.ftl is here too (a test fails otherwise).

app-name = allot
lang-name = English
lang-switch = Русский

sign-in-title = Sign in
sign-in-login = Login
sign-in-password = Password
sign-in-submit = Sign in
sign-in-wrong = Wrong login or password.
sign-in-locked = Too many failed attempts. Try again after { $until }.
sign-out = Sign out
signed-in-as = Signed in as { $login }

nav-home = Home
nav-my-clients = My clients

home-title = What changed
home-since = Since your last visit ({ $date }):
home-first = This is your first visit: here are the latest changes.
home-gained = { $count ->
    [one] { $shown } client gained
   *[other] { $shown } clients gained
}
home-lost = { $count ->
    [one] { $shown } client handed over
   *[other] { $shown } clients handed over
}
home-nothing = Nothing has changed.
home-no-employee = You are not one of the employees: no clients are yours.
column-change = Change
change-gained = gained
change-lost = handed over

role-admin = head of sales
role-manager = team manager
role-employee = employee

my-clients-title = My clients
my-clients-count = { $count ->
    [one] { $shown } client
   *[other] { $shown } clients
}
my-clients-none = You hold no clients yet.
my-clients-download = Download as CSV
my-clients-download-xlsx = Download as XLSX

nav-team = Team
team-title = Team
team-loads = Load per role
team-chart = Clients per employee, by role
team-absences = Absences
team-no-absences = No absences.
team-absence-new = Register an absence
absence-employee = Who is away
absence-first = From
absence-last = Until (inclusive)
absence-cover = Who covers
absence-cover-peers = share among teammates
absence-submit = Show the plan
absence-applied = applied
absence-planned = awaiting a plan
column-clients = Clients
column-before = Before
column-after = After
column-gained = Gains
column-lost = Hands over
plan-title = The plan of changes on { $date }
plan-apply = Apply the plan
plan-cancel = Do not apply
plan-done = The plan is applied: change { $change }.
plan-nothing = The plan changes nothing.
team-leavers = Leavers
team-no-leavers = Nobody is leaving.
team-leaver-new = Register a leaver
leaver-employee = Who leaves
leaver-on = First day without clients
leaver-submit = Show the hand-over plan
page-of = Page { $page } of { $pages }
page-prev = ← Previous
page-next = Next →
column-client = Client
column-name = Name
column-region = Region
column-potential = Potential
column-role = Role
column-since = Since
column-why = Why

client-title = Client { $id }
client-attributes = The client's data
client-owners-now = Responsible now
client-no-owners = Nobody is responsible for the client now.
client-history = History
client-explanation = Why
client-deals = Deals
client-no-deals = No deals.
column-deal = Deal
column-employee = Employee
column-to = Until
column-cause = Cause
column-by = Changed by
column-attribute = Field
column-value = Value

cause-new = a new client
cause-rule = by a rule
cause-pin = pinned by hand
cause-cover = cover during an absence
cause-return = back after an absence
cause-leaver = the previous owner left
cause-absence = the previous owner was absent
cause-rebalance = a rebalance

pins-title = Pins
pin-title = Pin the client
pin-role = Role
pin-employee = Employee (their id)
pin-reason = Reason
pin-submit = Pin
unpin-submit = Unpin
pin-refused = Not done: { $why }
as-of = as of { $date }

error-forbidden = This page is not yours to see.
error-not-found = There is no such page.
error-csrf = The form has expired: reload the page and try again.

# `allot report` (--lang en, the default outside a Russian locale): its CSV and XLSX headers and
# its charts. The column names are what scripts read.
report-col-role = role
report-col-employee = employee_id
report-col-name = name
report-col-clients = clients
report-col-potential = potential
report-col-workload = workload
report-col-deals = deals
report-col-revenue = revenue_credit
report-col-overlay = overlay_credit
report-col-realisation = realisation
report-money-column = { $column } ({ $currency })
report-group-team = team
report-group-territory = territory
report-sheet-contribution = contribution
report-sheet-balance = balance
report-bal-measure = measure
report-bal-min = min
report-bal-max = max
report-bal-ratio = max/min
report-bal-cv = cv
report-bal-gini = gini
report-measure-clients = clients
report-measure-potential = potential
report-measure-workload = workload
chart-load-title = role { $role }: potential held (bars) and revenue credited (black line) per employee
chart-revenue-title = role { $role }: revenue credited{ $currency } against potential (grey: the role's realisation)
chart-potential-held = potential held
chart-revenue-credited = revenue credited
chart-realisation = the role's realisation

# "Why is this client Ivanov's?" — the explanation, rule by rule (allot explain, the client card).
why-client = client { $id }: { $attrs }
why-deal = deal { $id }: { $attrs }
why-of-client = of client { $id }: { $attrs }
why-territory = territory: { $path }
why-territory-none = none
why-role = role { $role } → { $who } ({ $how })
why-nobody = nobody
why-no-rule-client = no rule of this role applies to clients
why-no-rule-deal = no rule of this role applies to deals
why-rule-client = client rule
why-rule-deal = deal rule
why-matches = MATCHES
why-no = no
why-yes = yes
why-unknown = unknown
why-undecided = undecided (missing value)
why-no-condition = (no condition: matches everything)
why-attr-value = { $attr } = { $value }
why-attr-missing = { $attr } is missing
why-pinned = pinned by hand: rules do not move it
why-sticky = kept with the current owner: still a valid target of the matching rule (S1.3)
why-pool = pool of rule { $rule } ({ $strategy }), loads at the moment of choice:
why-load = load
why-weight = weight
why-per-weight = per weight
why-chosen = chosen
why-territory-owner = owner of the client's territory for this role
why-stored-only = stored, not used by the scheme: { $attrs }
strategy-balance-potential = balance-potential
strategy-balance-workload = balance-workload
strategy-balance-count = balance-count
strategy-round-robin = round-robin
how-pinned = pinned
how-sticky = kept: current owner is still valid
how-territory-owner = territory owner
how-named = named by rule
how-pool = pool
how-pool-of = pool: { $strategy }
how-via-client = the client's employee
how-unassigned = unassigned: { $reason }
unavailable-inactive = inactive
unavailable-absent = absent
unavailable-at-capacity = at capacity
reason-no-rule = no rule matched
reason-missing = no rule matched; `{ $attr }` is missing
reason-no-territory = the client is in no territory
reason-no-owner = territory { $territory } has no owner for this role
reason-unavailable = { $employee } is { $why }
reason-n-absent = { $count } absent
reason-n-inactive = { $count } inactive
reason-n-full = { $count } at capacity
reason-pool-empty = the pool has no members
reason-no-takeover = nobody eligible to take over from { $employee }
reason-role-dropped = the role is no longer in the scheme; its links end
reason-pool-exhausted = every pool member is unavailable ({ $parts })

# Notes beside a plan's moves.
note-absence-ahead = { $employee } is registered absent from { $first } to { $last }: plan on or after { $first } to arrange the cover
note-absence-over = { $employee }'s absence from { $first } to { $last } ended before this plan's day: nothing to cover
note-leaves-ahead = { $employee } leaves on { $on }: plan on or after that day to hand their clients over
note-kept = { $count } { $role } link(s) stay with their current employee because the rule's choice cannot take them ({ $why }); change the scheme to move them

# The five roles of S4.2 (a scheme names its own roles itself).
role-title-lead = lead acquisition
role-title-sales = sales
role-title-account = account support
role-title-service = service
role-title-admin = administration

# Ending an absence early (Team).
absence-end = End early
absence-end-last = Last day
absence-end-submit = Show what changes
absence-end-title = { $employee } is back early
absence-end-what = { $employee } was to be away from { $first } to { $was }; the absence now ends on { $last }, and { $employee } is back on { $back }.
absence-end-links = { $count ->
    [one] { $shown } client covered during the absence returns to { $employee } that day; its cover ends.
   *[other] { $shown } clients covered during the absence return to { $employee } that day; their cover ends.
}

# allot balance: the report, the design file and the pictures.
balance-divided = Divided { $units } units{ $clients } into { $territories } territories{ $contiguous }
balance-rebalanced = Re-balanced { $units } units{ $clients } into { $territories } territories{ $contiguous }
balance-units-clients = ({ $clients } clients)
balance-contiguous = , contiguous
balance-col-territory = territory
balance-col-units = units
balance-col-clients = clients
balance-col-dev = dev
balance-col-km = mean km
balance-col-pieces = pieces
balance-spread = spread { $spread } (tolerance { $tolerance }): { $verdict }
balance-within = within tolerance
balance-not-within = NOT within tolerance
balance-impossible = the tolerance is impossible: no design can spread less than { $bound } ({ $why }); without the giants' territories the spread is { $without }
balance-units-whole = units cannot be split
balance-giants-alone = { $count ->
    [one] { $giants } alone exceeds the mean
   *[other] { $giants } alone exceed the mean
}
balance-best-found = best reachable found: { $spread }; the bound is { $bound } — try without --contiguous, with a larger --time-limit or more --restarts
balance-h-compactness = compactness
balance-compactness = { $total } potential·km to the centroids (mean { $mean } km per unit of potential){ $p_median }
balance-p-median = ; p-median cost { $cost }
balance-h-contiguity = contiguity
balance-one-piece = every territory is one connected piece
balance-pieces = { $count } extra piece(s){ $how }
balance-pieces-forced = { " " }(fixed units or the graph leave no other way)
balance-pieces-allowed = { " " }(add --contiguous to forbid)
balance-h-moves = moves
balance-moves = { $potential } of the potential and { $clients } clients ({ $share }) change territory; { $least }
balance-least-move = any design within tolerance must move at least { $bound }
balance-no-least-move = no design meets the tolerance (giants), so there is no least move to compare with
balance-h-giants = giants
balance-giants = { $count ->
    [one] { $giants } got a territory of its own
   *[other] { $giants } each got a territory of their own
}
balance-h-search = search
balance-search = { $restarts } restart(s), { $stopped }, { $seconds } s
balance-stop-done = done
balance-stop-time-limit = time limit
balance-stop-interrupted = interrupted
balance-stop-move-cap = move cap
design-territory = territory
design-employee = employee
design-clients = clients
picture-units = units
picture-map-title = { $territories } territories, { $criterion } spread { $spread }%, { $pieces } extra piece(s)
picture-map-client = a client, in its territory's colour
picture-map-centre = a territory's centre, with its name
picture-chart-title = { $criterion } per territory
picture-chart-bar = { $criterion }
picture-chart-target = target (equal share)
picture-chart-band = tolerance ±{ $tolerance }%
picture-thousands = { $n }K
picture-millions = { $n }M
picture-billions = { $n }B

# Refusals a person reads (made deep in the store or a use case, said in the reader's language).
error-date = `{ $value }` is not a date: YYYY-MM-DD, e.g. 2026-11-29
refused-already-absent = { $employee } is already registered as absent from { $first } to { $last }
refused-already-leaving = { $employee } is already registered as leaving on { $on }
refused-end-not-shorter = { $employee }'s absence already ends on { $was }: ending it on { $last } would not shorten it
refused-end-before-start = { $employee }'s absence begins on { $first }: it can end on that day at the earliest
refused-end-before-cover = the cover of { $employee }'s clients began on { $began }: the absence can end on { $earliest } at the earliest
refused-end-in-past = an absence cannot end in the past: the earliest last day is { $earliest } (back today)
refused-unknown-role = unknown role `{ $role }` (did you mean `{ $near }`?); roles: { $roles }
refused-pin-reason = a pin needs a reason (--reason "…"): history keeps it
refused-absence-order = the absence ends ({ $last }) before it starts ({ $first })
refused-cover-self = an employee cannot cover their own absence
refused-stale = the store changed since the plan was made; make a new plan
refused-not-found = no { $what } `{ $id }` in the store
thing-client = client
thing-employee = employee
thing-deal = deal
thing-user = user
thing-absence = absence
thing-pin = pin
thing-token = token
thing-role = role
thing-plan = plan
thing-pin-for = pin for

# Why a routed item went where it went (kept with its link, said in either language).
route-no-rule = no rule matched
route-via-client = no deal rule for the role: the client's employee ({ $how })
route-no-client-employee = no deal rule for the role, and the client has no employee in it
route-named = rule `{ $rule }` names { $employee }
route-owner = rule `{ $rule }`: { $employee } owns territory `{ $territory }`
route-could-not = rule `{ $rule }` could not take it
route-fallback = falling back to `{ $rule }`
route-pool = pool `{ $rule }`: { $employee } was furthest below their share ({ $received } received of { $share }) among { $eligible } eligible of { $members }
route-inactive = { $employee } is inactive
route-absent = { $employee } is absent
route-off-duty = { $employee } is off duty (outside their working hours)
route-no-owner = territory `{ $territory }` has no owner for the role
route-no-member = every member is unavailable ({ $absent } absent, { $inactive } inactive, { $off } off duty, { $capped } at their cap)
route-state-lost = pool state lost a member
note-taken-over = taken over from { $employee } (a teammate; no rule names another employee)
note-covers = covers for { $employee }, absent { $first } to { $last }
note-back = back from the absence of { $first } to { $last }

# The head of sales' Contribution screen (issue #17).
nav-contribution = Contribution
contribution-title = Contribution
contribution-being-made = The report is being made: it reads the period's whole book and sales (seconds on a million clients). This page renews itself.
contribution-stale = These figures were made { $minutes ->
    [0] less than a minute ago
    [one] a minute ago
   *[other] { $minutes } minutes ago
}; the store has changed since, and the new ones are being made.
contribution-from = From
contribution-to = To (inclusive)
contribution-per = Rows
contribution-per-employee = per employee
contribution-per-team = per team
contribution-per-territory = per territory
contribution-per-column = per { $column }
contribution-role = Role of the charts
contribution-show = Show
contribution-period = Period { $from } — { $to }
contribution-download = Download as Excel (XLSX)
contribution-none = No one held clients in this period.
contribution-balance = Balance per role
contribution-measure = Measure
contribution-ratio = max / min
contribution-cv = CV
contribution-gini = Gini
contribution-clients = clients
contribution-potential = potential
contribution-workload = workload
contribution-meaning = max / min: how many times the most loaded employee holds what the least loaded holds (∞ when someone holds nothing). CV: the spread around the mean, as a share of it (0 — all equal). Gini: 0 when everyone holds the same, towards 1 when one holds nearly everything.
contribution-unassigned = Revenue credited to nobody in the role { $role } (nobody held it): { $amount }.
contribution-uncredited = { $count ->
    [one] { $shown } sale of the period could not be credited (allot report --uncredited lists it).
   *[other] { $shown } sales of the period could not be credited (allot report --uncredited lists them).
}
contribution-charts = Charts: { $role }

# The head of sales' Routing screen (issue #17).
nav-routing = Routing
routing-title = Routing of new leads
routing-pools = Pools
routing-no-pools = The active scheme has no pool rules.
routing-pool = Pool { $rule } ({ $role }, { $strategy }): { $items } { $count ->
    [one] item
   *[other] items
} routed
routing-caps = Caps per employee: { $day } a day, { $week } a week, { $month } a month.
routing-no-caps = No caps.
routing-fallback = When nobody can take an item: rule { $rule }.
routing-weight = Weight
routing-share = Share
routing-items = Items
routing-received = Received
routing-entitled = Entitled to
routing-below = Below the share by
routing-today = Today
routing-now = Now
routing-available = takes items
routing-absent = absent today
routing-inactive = inactive
routing-pools-meaning = The next item goes to the member furthest below their share (entitled to minus received, by the pool's measure); ties go to the one who waited longest. Someone away is not entitled while away, unless the rule lets them catch up.
routing-tokens = API tokens for integrations
routing-no-tokens = No tokens yet.
routing-token-label = Label
routing-token-scope = Scope
routing-token-made = Made by
routing-token-state = State
routing-scope-admin = head of sales (everything)
routing-scope-manager = manager (their teams' clients)
routing-scope-employee = employee (own clients)
routing-scope-router = router (routing only)
routing-token-works = works
routing-token-until = works until { $date }
routing-token-expired = expired on { $date }
routing-token-revoked = revoked by { $by } on { $at }
routing-revoke = Revoke
routing-revoke-label = Revoke the token { $label }
routing-token-new = A new token
routing-token-employee = Employee (for a manager or employee token)
routing-token-expires = Stops working on (optional)
routing-token-create = Make the token
routing-token-made-title = The token is made
routing-token-once = Copy it now: it is shown only once (only its fingerprint is kept).
routing-back = Back to Routing
routing-token-needs-label = A token needs a label: it says who uses it.
routing-token-bad-scope = unknown scope `{ $scope }`
routing-token-needs-employee = a manager or employee token needs the employee whose clients it sees
routing-token-expires-past = { $date } is not after today: the token would never work

# The head of sales' Imports screen (issue #17).
nav-imports = Imports
imports-title = Import a file
imports-intro = Clients, employees or deals as you have them: CSV from Excel (with `;`), an export of 1C in Windows-1251, XLSX or JSON Lines. The whole file is checked first: with an error anywhere, nothing is imported; otherwise you see the plan of what it changes, and it is applied only when you confirm it.
imports-kind = What the file holds
imports-clients = clients
imports-employees = employees
imports-deals = deals
imports-encoding = Encoding of a CSV file
imports-encoding-auto = UTF-8 (recognised by itself)
imports-encoding-1251 = Windows-1251 (1C, old Excel)
imports-file = File
imports-submit = Check and import
imports-errors = { $count ->
    [one] The file has { $shown } error:
   *[other] The file has { $shown } errors:
}
imports-nothing = Nothing was imported.
imports-broken = The upload broke off or is not a form; try again.
imports-bad-kind = Unknown kind of file `{ $kind }`: clients, employees or deals.
imports-no-file = Choose a file to import.
imports-disk = The server could not keep the file to read it (is its disk full?).

# The log of changes and the scheme's versions (issue #17).
nav-changes = Changes
changes-title = The log of changes
changes-show-routing = Show routing's batches too
changes-hide-routing = Hide routing's batches
changes-none = No changes yet.
changes-kind = Kind
changes-at = When
changes-file = File
changes-what = What it did
changes-earlier = Earlier changes
change-kind-import = import
change-kind-apply = plan applied
change-kind-pin = pin
change-kind-unpin = unpin
change-kind-absence = absence
change-kind-leave = leaver
change-kind-route = routing
change-kind-token = API token
schemes-title = Scheme versions
schemes-version = Version { $version }
schemes-active = in force
schemes-first = The first version.
schemes-same = Nothing changed against the version before (the same parts, in the same order).
schemes-against = Against version { $version }: { $shown } { $count ->
    [one] change
   *[other] changes
}
schemes-none = No scheme yet: the first applied plan stores it.
routing-waiting = Leads nobody took
routing-none-waiting = Every recent lead has someone in each of its roles.
routing-waiting-how = Open a lead's card to pin it to someone by hand, with the reason (history keeps it).
routing-when = Routed
routing-nobody-in = Nobody in
routing-recent = The latest routed leads
routing-none-recent = Nothing routed yet.
refused-no-credit = { $scheme } has no [credit] section: add one to say how sales are credited (docs/scheme.md, Credit)

# What each change did, as the log says it (kept with the change, said in either language).
summary-routed = { $count } items routed
summary-token = token `{ $label }` ({ $scope })
summary-token-revoked = token `{ $label }` revoked
summary-redated = client `{ $client }`: routed links redated to { $day }
summary-import-client = { $rows } client rows: { $new } new, { $updated } updated, { $same } unchanged
summary-import-employee = { $rows } employee rows: { $new } new, { $updated } updated, { $same } unchanged
summary-import-deal = { $rows } deal rows: { $new } new, { $updated } updated, { $same } unchanged
summary-pin = { $client } { $role } → { $employee }: { $reason }
summary-unpin = { $client } { $role }
summary-absent = { $employee } absent { $first } to { $last }
summary-absent-covered = { $employee } absent { $first } to { $last }, covered by { $cover }
summary-absence-ended = { $employee }'s absence from { $first } to { $was } ended early: last day { $last }, back on { $back }
summary-leaves = { $employee } leaves on { $on }
summary-apply = plan of { $date }: { $opened } links opened ({ $causes }), { $closed } closed
summary-apply-scheme = plan of { $date }: { $opened } links opened ({ $causes }), { $closed } closed, scheme version { $version }

## Plans proposed and approved (issue #17)
refused-plan-made = plan { $id } has not been proposed
refused-plan-proposed = plan { $id } is already proposed and waits for a decision
refused-plan-applied = plan { $id } is already applied
refused-plan-rejected = plan { $id } was rejected; make a new plan
refused-plan-not-yours = this plan was made by someone else: its maker or an admin decides it
refused-plan-propose-first = this plan is approved by an admin: propose it with a comment first
refused-plan-admin = only an admin approves this plan
refused-plan-other-admin = you proposed this plan: another admin approves it
nav-plans = Plans
plans-title = Plans
plans-how = A change — an absence, a leaver, an import, a new scheme, new territories — becomes a plan first: see what it moves, then apply it, or propose it with a comment for an admin to approve.
plans-proposed = Waiting for a decision
plans-made = Made, not proposed
plans-applied = Applied
plans-rejected = Rejected
plans-none = None.
plans-what = Plan
plans-kind = Kind
plans-made-by = Made by
plans-comment = Comment
plan-state-made = made
plan-state-proposed = proposed, waiting for a decision
plan-state-applied = applied
plan-state-rejected = rejected
plan-kind-team = absence or leaver
plan-kind-import = import
plan-kind-scheme = new scheme version
plan-kind-territories = territories
plan-kind-api = made over the API
plan-for-absence = { $employee } absent from { $first } to { $last }
plan-for-leaver = { $employee } leaves on { $on }
plan-for-import = import of { $file }
plan-for-scheme = new scheme version
plan-scheme-changes = What the scheme changes
plan-scheme-diff = The scheme's text: what changes
plan-scheme-active = active scheme
plan-scheme-new = proposed scheme
plan-by-employee = Gains and losses per employee
plan-potential-gained = Potential gained
plan-potential-lost = Potential handed over
plan-by-cause = Moves by cause
plan-by-rule = Moves by rule
plan-unassigned = Left unassigned
plan-closed-unassigned = { $shown } { $count ->
    [one] link ends
   *[other] links end
 } with nobody to take over.
plan-why = Why
plan-examples = For example
plan-made-by = Made by
plan-proposed-by = Proposed by
plan-approved-by = Approved by
plan-rejected-by = Rejected by
plan-decision = Decision's comment
plan-change = Applied as change
plan-decide = Decision
plan-policy-maker = Its maker or an admin applies this plan.
plan-policy-admin = This plan is proposed with a comment; an admin approves or rejects it.
plan-policy-other-admin = This plan is proposed with a comment; an admin other than the proposer approves or rejects it.
plan-comment-label = Comment (who reads the log sees it)
plan-propose = Propose
plan-approve = Approve and apply
plan-reject = Reject
plan-discard = Discard
plan-comment-long = The comment is longer than { $limit } characters.
plan-comment-needed = Say in a comment why this change is proposed.
plan-back = Back to the plan
plan-drill-title = { $employee }, { $role }: the clients that move
plan-by-this-rule = rule { $rule }
plan-held-by-rule = held by rule { $rule }
plan-drill-first = The first { $shown } { $count ->
    [one] client
   *[other] clients
 }:
changes-plan = the plan
changes-proposed = proposed by
changes-approved = approved

## The rule builder (issue #17 §1)
nav-rules = Rules
rules-title = Rules of distribution
rules-how = The scheme as its roles, their rules in order (the first that matches a client wins) and the territories with their owners; its text on the right. An edit in either shows in both; the check below runs as you edit. Nothing changes until the plan it makes is approved.
rules-draft-file = draft
rules-toml = The scheme's text (TOML)
rules-toml-how = For those who prefer text: edit it here; the lists and the check follow.
rules-check = Check
rules-plan = Make the plan
rules-too-long = The scheme is longer than { $limit } KiB.
rules-empty = The scheme is empty: add a rule with the builder.
rules-outline-wait = The text has an error (see the check): the lists show again once it reads.
rules-check-title = Check
rules-roles = Roles and their rules
rules-none = No rules yet.
rules-role-empty = No rules for this role yet.
rules-every-client = every client
rules-on-deal = (on deals)
rules-up = Move { $id } up
rules-down = Move { $id } down
rules-remove = Remove { $id }
rules-territories = Territories
rules-territory = Territory
rules-covers = Covers
rules-owners = Owners by role
rules-target-owner = the territory's owner
rules-target-employee = { $employee }
rules-target-pool = pool { $who } ({ $strategy })
rules-target-pool-weights = pool { $who } ({ $strategy }; weights { $weights })
rules-target-kind-employee = an employee
rules-target-kind-pool = a team's pool
rules-test = Condition { $n }: column
rules-op = comparison
rules-value = value
rules-op-eq = is
rules-op-ne = is not
rules-op-in = is one of (separate by ;)
rules-op-not-in = is none of (separate by ;)
rules-op-contains = contains
rules-op-gt = more than
rules-op-ge = at least
rules-op-lt = less than
rules-op-le = at most
rules-op-missing = is empty
rules-op-present = is filled in
rules-add = Add a rule
rules-id = Identifier (letters, digits, - and _)
rules-tests-how = Conditions on the clients' columns; leave a column empty to skip the line; none at all: every client.
rules-join = Combine the conditions
rules-join-all = all of them (and)
rules-join-any = any of them (or)
rules-target = Who gets the clients
rules-team = Team (for a pool)
rules-strategy = How the pool shares them
rules-weights = Weights in the pool (e.g. anna = 3, boris = 2)
rules-before = Place
rules-at-end = after the role's last rule
rules-add-button = Add the rule
rules-add-role = Add a role
rules-role-how = A role is what someone does for a client (sales, service, the phone desk), not a job title: one person may hold several roles, and a client has someone in each.
rules-role-name = Name people read
rules-set-owner = Set a territory's owner
rules-no-owner = nobody
rules-added = Rule { $id } added.
rules-removed = Rule { $id } removed.
rules-moved = Rule { $id } moved.
rules-role-added = Role { $id } added.
rules-owner-set = Owner of { $territory } set.
rules-not-toml = The text is not a valid scheme yet: { $why }
rules-unknown-rule = There is no rule { $id }.
rules-duplicate-rule = There is a rule { $id } already: give the new one another identifier.
rules-duplicate-role = There is a role { $id } already.
rules-unknown-territory = There is no territory { $id }.
rules-bad-id = `{ $id }` cannot be an identifier: use letters, digits, - and _.
rules-no-target = Say who gets the clients: an employee, a team's pool or the territory's owner.
rules-bad-condition = The condition cannot be built: { $why }
rules-bad-weight = `{ $part }` is not a weight: write name = number.
rules-errors = { $shown } { $count ->
    [one] problem
   *[other] problems
 } to fix:
rules-valid = The scheme reads and fits the data.
rules-findings = { $shown } { $count ->
    [one] finding
   *[other] findings
 } of the check:
rules-coverage = Coverage per role
rules-assigned = Assigned
rules-unassigned = Without anyone
rules-declared = Column { $column } declared.
scheme-change-added = { $part }: added
scheme-change-removed = { $part }: removed
scheme-change-changed = { $part }: changed
scheme-change-moved = { $part }: moved in priority
scheme-part-rule = rule { $id }
scheme-part-territory = territory { $id }
scheme-part-role = role { $id }
scheme-part-team = team { $id }
scheme-part-columns = client columns
scheme-part-deal_columns = deal columns
scheme-part-measures = measures
scheme-part-name = the scheme's name
scheme-part-credit = sales credit
scheme-part-values = value dictionaries
rules-territories-set = Territories replaced.

## Territories (issue #17 §3)
nav-territories = Territories
territories-title = Territories
territories-how = Cut the stored clients into territories of equal potential (or workload, or count) — whole regions, contiguous — for a team's people or a number of territories; or re-balance today's, moving as little as the tolerance allows. The run shows its progress and can be stopped; its map and table show the result; the plan puts it to the approval.
territories-who = For whom
territories-team = Owners: a team's members
territories-k = or a number of territories (no owners)
territories-parent = Inside territory (the scheme's)
territories-what = What to balance
territories-by = Balance
territories-count = number of clients
territories-tolerance = Tolerance, %
territories-unit = Keep whole
territories-unit-client = each client alone
territories-contiguous = each territory in one piece
territories-filter = Only clients for which (a condition, optional)
territories-mode = How
territories-mode-design = a new design
territories-mode-rebalance = re-balance today's owners
territories-max-moved = At most this share of the potential moves, % (optional)
territories-seconds = Time limit, seconds
territories-run = Run
territories-runs = Latest runs
territories-credit = Client places: GeoNames (CC BY 4.0).
territories-running = restart { $done } of { $of }
territories-stopped = stopped: the best design found so far
territories-finished = finished
territories-failed = the run could not be made
territories-bad-percent = `{ $value }` is not a percentage between 0 and 100.
territories-bad-k = `{ $value }` is not a number of territories between 2 and 1000.
territories-bad-seconds = `{ $value }` is not a number of seconds between 1 and 600.
territories-need-owners = Choose the team whose people own the territories, or give a number of territories.
territories-busy = A run is under way: one at a time.
territories-see-run = See it
territories-empty-team = Nobody is in team { $team }.
territories-run-title = A territory design
territories-stop = Stop and keep the best so far
territories-again = Another run
territories-summary = { $territories } territories of { $units } units, { $clients } clients, in { $seconds } s
territories-spread = { $criterion }: spread { $spread } (tolerance { $tolerance }; no design does better than { $bound })
territories-moves = Against today: { $clients } clients change territory, { $share } of the potential.
territories-map-alt = Map of the clients coloured by territory
territories-centres = Territory centres: hover or focus one for its totals
territories-map-caption = Each dot a client, coloured by territory; the ringed dots are the centres — point at one for its totals.
territories-hover-clients = { $shown } { $count ->
    [one] client
   *[other] clients
 }
territories-units = Units
territories-deviation = deviation
territories-km = mean km to centre
territories-pieces = extra pieces
territories-compactness = Mean distance to a territory's centre: { $km } km; extra pieces: { $pieces }.
territories-to-plan = Make the plan
territories-to-plan-how = (the active scheme with these territories; then propose it for approval)
territories-no-plan = A plan needs owners (a team) and a column kept whole (e.g. region): the scheme names territories by their values.
territories-no-map = The map could not be drawn.
plan-for-territories = { $count } new territories
balance-note-left-out = { $count ->
    [one] { $count } stored client
   *[other] { $count } stored clients
 } held in role { $role } by someone who owns no territory here are left out
balance-note-where = the condition keeps { $kept } of { $of } clients
rules-add-territory = Add a territory
rules-territory-how = A territory holds the clients whose column (usually the region) is one of its values; with no values it holds every client (a country, say), and others may sit inside it. Regions by their names or codes, separated by ;.
rules-territory-name = Name people read
rules-territory-parent = Inside territory
rules-territory-attr = By column
rules-territory-values = Values (regions by name or code, separated by ;)
rules-territory-owner = Owner in that role
rules-territory-added = Territory { $id } added.
rules-duplicate-territory = There is a territory { $id } already.
rules-unknown-region = `{ $value }` is not a region of Russia; nearest: { $near }
imports-done-no-scheme = { $file } is imported. The store has no scheme yet: set up the rules and territories next.
rules-checking = Checking the scheme against the data… (without script: press Check)
territories-by2 = and also (optional)
picture-map-borders = grey: regions' borders, approximate (GeoNames places, CC BY 4.0)
rules-not = not (the opposite)
schemes-diff = What changed against version { $version }
schemes-text = Its text

# Issue #18 §4: people told that clients became theirs.
notify-subject = { $count ->
    [one] { $count } client is now yours
   *[other] { $count } clients are now yours
}
notify-team-subject = { $count ->
    [one] { $count } client went to your team
   *[other] { $count } clients went to your team
}
notify-hello = Hello, { $name }!
notify-intro = { $count ->
    [one] You are now responsible for { $count } client:
   *[other] You are now responsible for { $count } clients:
}
notify-team-intro = { $count ->
    [one] { $count } client went to the people of your team:
   *[other] { $count } clients went to the people of your team:
}
notify-line = { $client } — { $role }, since { $date }: { $why }
notify-team-person = { $name }: { $count ->
    [one] { $count } client
   *[other] { $count } clients
}
notify-waiting-subject = { $count ->
    [one] { $count } lead waits for a person
   *[other] { $count } leads wait for a person
}
notify-waiting-intro = { $count ->
    [one] { $count } routed lead has waited for a person longer than { $minutes } min — assign it by hand (Routing in the allot workspace):
   *[other] { $count } routed leads have waited for a person longer than { $minutes } min — assign them by hand (Routing in the allot workspace):
}
notify-waiting-line = { $client } — nobody in: { $roles }; routed { $since } UTC
notify-more = … and { $count } more (all of them in the allot workspace, My clients)
notify-sign = — allot
notify-rule = rule «{ $rule }»
