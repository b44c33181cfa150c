//! Who may call the mutating methods. On the system bus every `Generate` and cancel is checked
//! with polkit (`CheckAuthorization` for the caller's bus name, no interaction), or, on kiosks
//! without polkit, against a Unix group that the bus policy file also restricts callers to.
//! The decisions are pure functions; only [`Authorizer::check`] talks to the bus.

use std::collections::HashMap;

use zbus::names::{BusName, UniqueName};
use zbus::{Connection, Variant};

use super::errors::ReelError;
use crate::config::{Authorization, BusKind};

/// A mutating operation, named as in `org.reel.Reel1.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `Manager.Generate`.
    Generate,
    /// `Manager.CancelJob` and `Job.Cancel`.
    Cancel,
}

impl Action {
    /// The polkit action id.
    pub fn id(self) -> &'static str {
        match self {
            Action::Generate => "org.reel.Reel1.generate",
            Action::Cancel => "org.reel.Reel1.cancel",
        }
    }
}

#[zbus::proxy(
    interface = "org.freedesktop.PolicyKit1.Authority",
    default_service = "org.freedesktop.PolicyKit1",
    default_path = "/org/freedesktop/PolicyKit1/Authority"
)]
trait Authority {
    /// `CheckAuthorization(in (sa{sv}) subject, in s action_id, in a{ss} details, in u flags,
    /// in s cancellation_id, out (bba{ss}) result)`.
    fn check_authorization(
        &self,
        subject: &(&str, HashMap<&str, Variant<'_>>),
        action_id: &str,
        details: HashMap<&str, &str>,
        flags: u32,
        cancellation_id: &str,
    ) -> zbus::Result<(bool, bool, HashMap<String, String>)>;
}

/// How callers are checked, fixed at start.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Ask polkit for each call.
    Polkit,
    /// Callers in the group (by id), root, and reeld's own user pass.
    Group {
        /// The group's name, for messages.
        name: String,
        /// Its id; `None` if it does not exist on this system.
        gid: Option<u32>,
        /// reeld's own user.
        own_uid: u32,
    },
    /// The session bus admits only its own user: there is nobody else to keep out.
    SessionBus,
}

/// Checks callers of mutating methods.
#[derive(Debug, Clone)]
pub struct Authorizer {
    mode: Mode,
    connection: Connection,
}

impl Authorizer {
    /// Works out the mode for `bus` and `authorization`.
    pub async fn new(
        connection: Connection,
        bus: BusKind,
        authorization: Authorization,
        group: &str,
    ) -> zbus::Result<Authorizer> {
        let mode = match (bus, authorization) {
            // polkit's `system-bus-name` subject means nothing on a session bus.
            (BusKind::Session, Authorization::Polkit) => Mode::SessionBus,
            (_, Authorization::Polkit) => Mode::Polkit,
            (_, Authorization::Group) => {
                let gid = std::fs::read_to_string("/etc/group")
                    .ok()
                    .and_then(|text| gid_of(&text, group));
                if gid.is_none() {
                    tracing::warn!(
                        group,
                        "dbus.group does not exist; only root and reeld's user may call"
                    );
                }
                let own = connection
                    .unique_name()
                    .map(|n| BusName::from(n.to_owned()));
                let dbus = zbus::fdo::DBusProxy::new(&connection).await?;
                let own_uid = match own {
                    Some(name) => dbus.get_connection_unix_user(name).await?,
                    None => 0,
                };
                Mode::Group {
                    name: group.to_string(),
                    gid,
                    own_uid,
                }
            }
        };
        Ok(Authorizer { mode, connection })
    }

    /// The mode in use.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// Allows the call or says why not.
    pub async fn check(
        &self,
        caller: Option<&UniqueName<'_>>,
        action: Action,
    ) -> Result<(), ReelError> {
        let Some(caller) = caller else {
            return Err(ReelError::NotAuthorized(
                "the call has no sender; cannot authorise it".into(),
            ));
        };
        match &self.mode {
            Mode::SessionBus => Ok(()),
            Mode::Polkit => {
                let reply = self
                    .ask_polkit(caller, action)
                    .await
                    .map_err(|e| e.to_string());
                polkit_decision(action, reply.map(|(yes, challenge, _)| (yes, challenge)))
            }
            Mode::Group { name, gid, own_uid } => {
                let dbus = zbus::fdo::DBusProxy::new(&self.connection).await?;
                let credentials = dbus
                    .get_connection_credentials(BusName::from(caller.to_owned()))
                    .await
                    .map_err(|e| {
                        ReelError::NotAuthorized(format!(
                            "cannot read the caller's credentials: {e}"
                        ))
                    })?;
                let uid = credentials.unix_user_id();
                let gids = credentials.unix_group_ids().cloned().unwrap_or_default();
                group_decision(uid, &gids, *gid, *own_uid, name, action)
            }
        }
    }

    async fn ask_polkit(
        &self,
        caller: &UniqueName<'_>,
        action: Action,
    ) -> zbus::Result<(bool, bool, HashMap<String, String>)> {
        let authority = AuthorityProxy::new(&self.connection).await?;
        let mut subject_details = HashMap::new();
        subject_details.insert("name", Variant::from(caller.as_str()));
        let subject = ("system-bus-name", subject_details);
        // Flags 0: no interactive authentication; a D-Bus caller has no agent to answer it.
        authority
            .check_authorization(&subject, action.id(), HashMap::new(), 0, "")
            .await
    }
}

/// Turns polkit's answer (`is_authorized`, `is_challenge`) or the failure to get one into a
/// decision.
pub fn polkit_decision(
    action: Action,
    reply: Result<(bool, bool), String>,
) -> Result<(), ReelError> {
    let id = action.id();
    match reply {
        Ok((true, _)) => Ok(()),
        Ok((false, true)) => Err(ReelError::NotAuthorized(format!(
            "{id} needs authentication, which this API does not ask for; have an administrator allow it \
             for you with a polkit rule (see /usr/share/polkit-1/rules.d/org.reel.Reel1.rules)"
        ))),
        Ok((false, false)) => Err(ReelError::NotAuthorized(format!(
            "polkit does not allow {id} for you; ask an administrator to add you to the `reel` group \
             or to grant it with a polkit rule"
        ))),
        Err(e) => Err(ReelError::NotAuthorized(format!(
            "polkit is unreachable ({e}), so {id} cannot be authorised; start polkitd, or on a kiosk \
             without polkit set [dbus] authorization = \"group\" in reeld.toml and install the group \
             bus policy"
        ))),
    }
}

/// The group check: root, reeld's own user and members of the group pass.
pub fn group_decision(
    uid: Option<u32>,
    gids: &[u32],
    group_gid: Option<u32>,
    own_uid: u32,
    group: &str,
    action: Action,
) -> Result<(), ReelError> {
    let member = group_gid.is_some_and(|g| gids.contains(&g));
    match uid {
        Some(uid) if uid == 0 || uid == own_uid || member => Ok(()),
        Some(uid) => Err(ReelError::NotAuthorized(format!(
            "{} is for members of the `{group}` group; user {uid} is not one (add it with `usermod -aG {group} USER`)",
            action.id()
        ))),
        None => Err(ReelError::NotAuthorized(
            "the bus did not say who the caller is; cannot authorise it".into(),
        )),
    }
}

/// The id of `group` in `/etc/group` text.
pub fn gid_of(group_file: &str, group: &str) -> Option<u32> {
    group_file.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let gid = fields.nth(1)?;
        (name == group).then(|| gid.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::DBusError;

    fn text(r: Result<(), ReelError>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.name(), "org.reel.Reel1.Error.NotAuthorized");
        e.description().unwrap_or_default().to_string()
    }

    #[test]
    fn polkit_answers_map_to_allow_or_a_reason() {
        assert!(polkit_decision(Action::Generate, Ok((true, false))).is_ok());
        assert!(
            text(polkit_decision(Action::Generate, Ok((false, true))))
                .contains("needs authentication")
        );
        assert!(
            text(polkit_decision(Action::Cancel, Ok((false, false))))
                .contains("org.reel.Reel1.cancel")
        );
        let unreachable = text(polkit_decision(
            Action::Generate,
            Err("ServiceUnknown".into()),
        ));
        assert!(
            unreachable.contains("polkit is unreachable")
                && unreachable.contains("authorization = \"group\""),
            "{unreachable}"
        );
    }

    #[test]
    fn group_members_root_and_the_daemon_user_pass() {
        let check =
            |uid, gids: &[u32]| group_decision(uid, gids, Some(990), 991, "reel", Action::Generate);
        assert!(check(Some(0), &[]).is_ok());
        assert!(check(Some(991), &[]).is_ok());
        assert!(check(Some(1000), &[100, 990]).is_ok());
        assert!(text(check(Some(1000), &[100])).contains("`reel` group"));
        assert!(check(None, &[990]).is_err());
        assert!(group_decision(Some(1000), &[990], None, 991, "reel", Action::Cancel).is_err());
    }

    #[test]
    fn the_shipped_policy_files_name_the_actions_reeld_checks() {
        let policy = include_str!("../../dbus/org.reel.Reel1.policy");
        let rules = include_str!("../../dbus/org.reel.Reel1.rules");
        for action in [Action::Generate, Action::Cancel] {
            let id = action.id();
            assert!(
                policy.contains(&format!("<action id=\"{id}\">")),
                "{id} in the polkit policy"
            );
            assert!(rules.contains(id), "{id} in the polkit rule");
        }
        for conf in [
            include_str!("../../dbus/org.reel.Reel1.conf"),
            include_str!("../../dbus/org.reel.Reel1.group.conf"),
        ] {
            assert!(conf.contains("<allow own=\"org.reel.Reel1\"/>"));
        }
    }

    #[test]
    fn group_ids_come_from_etc_group() {
        let file = "root:x:0:\nreel:x:990:alice,bob\nreelx:x:5:\n";
        assert_eq!(gid_of(file, "reel"), Some(990));
        assert_eq!(gid_of(file, "root"), Some(0));
        assert_eq!(gid_of(file, "video"), None);
    }
}
