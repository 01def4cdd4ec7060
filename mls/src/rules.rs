//! The rule every member applies to every commit it receives: a commit that adds anyone must
//! carry the link's external PSK, and nobody joins by external commit.
//!
//! This is what binds admission to the link. Without the rule a relay could hand its own key
//! package to a member whose client adds whoever asks (as Orange Meets' designated committer
//! does); with it, such a commit must carry the PSK, the PSK goes into the new epoch's key
//! schedule (RFC 9420 §8.4), and a Welcome cannot be opened without it. mls-rs runs the rule
//! before it applies anything, so a refused commit changes no state.
//!
//! Not here: which members may commit (docs/mls.md, *Who commits*), and any check of what we
//! send ourselves: [`crate::Participant::commit_add`] always includes the PSK.

use mls_rs::group::{GroupContext, Roster};
use mls_rs::mls_rules::{
    CommitDirection, CommitOptions, CommitSource, EncryptionOptions, ProposalBundle,
};
use veilig_e2ee::MLS_PSK_ID;

/// Veilig's [`mls_rs::MlsRules`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LinkRules;

/// Why [`LinkRules`] refused a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The commit adds a member without the link's PSK.
    #[error("a commit adds a member without the link's key")]
    AddWithoutLink,
    /// Someone tried to join by external commit, which bypasses the members' admission.
    #[error("an external commit")]
    ExternalCommit,
}

impl mls_rs::error::IntoAnyError for Refused {
    fn into_dyn_error(self) -> Result<Box<dyn std::error::Error + Send + Sync>, Self> {
        Ok(Box::new(self))
    }
}

/// Whether `proposals` carry the link's PSK.
fn carries_link_psk(proposals: &ProposalBundle) -> bool {
    proposals.psk_proposals().iter().any(|p| {
        p.proposal
            .external_psk_id()
            .is_some_and(|id| id.as_ref() == MLS_PSK_ID)
    })
}

impl mls_rs::MlsRules for LinkRules {
    type Error = Refused;

    fn filter_proposals(
        &self,
        direction: CommitDirection,
        source: CommitSource,
        _roster: &Roster,
        _context: &GroupContext,
        proposals: ProposalBundle,
    ) -> Result<ProposalBundle, Refused> {
        if direction == CommitDirection::Send {
            return Ok(proposals);
        }
        if matches!(source, CommitSource::NewMember(_)) {
            return Err(Refused::ExternalCommit);
        }
        if !proposals.add_proposals().is_empty() && !carries_link_psk(&proposals) {
            return Err(Refused::AddWithoutLink);
        }
        Ok(proposals)
    }

    fn commit_options(
        &self,
        _roster: &Roster,
        _context: &GroupContext,
        _proposals: &ProposalBundle,
    ) -> Result<CommitOptions, Refused> {
        // The ratchet tree travels inside the Welcome (no second fetch for a newcomer); no
        // external commits; one Welcome for all newcomers of a commit.
        Ok(CommitOptions::new()
            .with_ratchet_tree_extension(true)
            .with_allow_external_commit(false)
            .with_single_welcome_message(true))
    }

    fn encryption_options(
        &self,
        _roster: &Roster,
        _context: &GroupContext,
    ) -> Result<EncryptionOptions, Refused> {
        // Handshake messages as PublicMessage: the relay orders them per room, and they carry
        // no secret (key packages and commits are signed; the relay sees leaf indices).
        Ok(EncryptionOptions::default())
    }
}
