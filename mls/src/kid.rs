//! RFC 9605 §5.2 KIDs: which epoch and which member a frame's key belongs to, in the KID itself.
//!
//! ```text
//! KID = (context << (S + E)) + (sender_index << E) + (epoch % (1 << E))
//! E   = EPOCH_BITS (4): no more than 16 epochs can be live at once; Veilig keeps two
//! S   = the smallest value with group_size < (1 << S), group_size = highest occupied leaf + 1
//! context = which of the sender's tracks (microphone, camera, screen share, ...)
//! ```
//! So a receiver reads the epoch from the low bits, looks up that epoch's `S`, and reads the
//! sender's leaf index and the context from the rest. KIDs of a 25-member meeting fit in 2 bytes
//! (RFC 9605 header: 1 + 2 + counter bytes), against 8 random bytes before MLS.
//!
//! This module only packs and unpacks numbers: whether the sender is a member, and whether a
//! context was already used in an epoch, is [`crate::epoch`]'s business.

use veilig_e2ee::Kid;

/// Low-order epoch bits in a KID (RFC 9605's `E`).
pub const EPOCH_BITS: u32 = 4;

/// A KID's parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KidParts {
    /// Which of the sender's streams.
    pub context: u64,
    /// The sender's MLS leaf index.
    pub sender: u32,
    /// The epoch's low [`EPOCH_BITS`] bits.
    pub epoch_bits: u8,
}

/// A context too large to fit beside the sender index and epoch bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("KID context {0} does not fit")]
pub struct ContextTooLarge(pub u64);

/// RFC 9605's `S` for a group whose highest occupied leaf index is `highest_leaf`.
pub fn sender_bits(highest_leaf: u32) -> u32 {
    let group_size = u64::from(highest_leaf) + 1;
    // Smallest S with group_size < 2^S.
    64 - group_size.leading_zeros()
}

/// The low epoch bits of `epoch`.
pub fn epoch_bits(epoch: u64) -> u8 {
    (epoch % (1 << EPOCH_BITS)) as u8
}

/// Packs a KID. `s` is [`sender_bits`] of the epoch; `sender` must be below `1 << s`.
pub fn encode(parts: KidParts, s: u32) -> Result<Kid, ContextTooLarge> {
    debug_assert!(
        u64::from(parts.sender) < 1 << s,
        "sender index beyond S bits"
    );
    let shift = s + EPOCH_BITS;
    if parts.context.checked_shl(shift).map(|c| c >> shift) != Some(parts.context) {
        return Err(ContextTooLarge(parts.context));
    }
    Ok(Kid((parts.context << shift)
        + (u64::from(parts.sender) << EPOCH_BITS)
        + u64::from(parts.epoch_bits)))
}

/// The low epoch bits of a KID: which epoch's `S` to read the rest with.
pub fn kid_epoch_bits(kid: Kid) -> u8 {
    (kid.0 % (1 << EPOCH_BITS)) as u8
}

/// Unpacks a KID with the `S` of the epoch its low bits name.
pub fn decode(kid: Kid, s: u32) -> KidParts {
    let sender = (kid.0 >> EPOCH_BITS) & ((1u64 << s) - 1);
    KidParts {
        context: kid.0.checked_shr(s + EPOCH_BITS).unwrap_or(0),
        sender: sender as u32,
        epoch_bits: kid_epoch_bits(kid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s_is_the_smallest_with_group_size_below_two_to_the_s() {
        // group_size 1 → S 1; 2,3 → 2; 4..7 → 3; 25 → 5; 32 → 6.
        for (highest, s) in [
            (0, 1),
            (1, 2),
            (2, 2),
            (3, 3),
            (6, 3),
            (24, 5),
            (30, 5),
            (31, 6),
        ] {
            assert_eq!(sender_bits(highest), s, "highest leaf {highest}");
        }
    }

    #[test]
    fn the_rfc_formula_and_back() {
        let parts = KidParts {
            context: 2,
            sender: 17,
            epoch_bits: epoch_bits(35),
        };
        let s = sender_bits(24);
        let kid = encode(parts, s).unwrap();
        assert_eq!(kid.0, (2 << (5 + 4)) + (17 << 4) + (35 % 16));
        assert_eq!(decode(kid, s), parts);
        // A 25-member meeting's KIDs stay under 2^16: two bytes in the SFrame header.
        let last = encode(
            KidParts {
                context: 3,
                sender: 24,
                epoch_bits: 15,
            },
            s,
        )
        .unwrap();
        assert!(last.0 < 1 << 16, "{last:?}");
    }

    #[test]
    fn a_context_that_does_not_fit_is_refused() {
        let s = sender_bits(24);
        let parts = |context| KidParts {
            context,
            sender: 1,
            epoch_bits: 0,
        };
        assert!(encode(parts((1 << (64 - 9)) - 1), s).is_ok());
        assert_eq!(
            encode(parts(1 << (64 - 9)), s),
            Err(ContextTooLarge(1 << 55))
        );
    }
}
