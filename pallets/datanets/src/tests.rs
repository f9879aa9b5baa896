//! Unit tests on the mock runtime: every call, every error (with `assert_noop!`: nothing
//! changes, no funds move), every event, deposit accounting and the Merkle root against an
//! independent recomputation. `build_and_execute` checks `do_try_state` after each test.

use crate::{mock::*, *};
// The pallet (not the `Datanets` storage map, which is `crate::Datanets`).
use crate::mock::Datanets;
use codec::Encode;
use frame_support::{
    assert_noop, assert_ok,
    traits::{
        fungible::{Inspect as _, InspectHold as _, Mutate as _},
        Get,
    },
    BoundedVec,
};
use sp_core::H256;
use sp_runtime::{traits::BadOrigin, DispatchError, TokenError};

type Ev = crate::Event<Test>;

fn text<S: Get<u32>>(s: &str) -> BoundedVec<u8, S> {
    s.as_bytes().to_vec().try_into().expect("fits the bound")
}

fn bytes<S: Get<u32>>(b: &[u8]) -> BoundedVec<u8, S> {
    b.to_vec().try_into().expect("fits the bound")
}

fn tags(list: &[&str]) -> TagsOf<Test> {
    list.iter()
        .map(|t| text(t))
        .collect::<Vec<_>>()
        .try_into()
        .expect("fits the bound")
}

fn create(
    owner: u64,
    admission: Admission,
    curation: CurationPolicy,
    per_byte: u64,
    policy: DepositPolicy,
) -> DatanetId {
    let id = NextDatanetId::<Test>::get();
    assert_ok!(Datanets::create_datanet(
        RuntimeOrigin::signed(owner),
        text("medical notes"),
        text("de-identified clinical notes"),
        text("CC-BY-4.0"),
        tags(&["health", "en"]),
        admission,
        curation,
        per_byte,
        policy,
    ));
    id
}

fn open_datanet(policy: DepositPolicy) -> DatanetId {
    create(OWNER, Admission::Open, CurationPolicy::Curators, 2, policy)
}

fn contribute(who: u64, datanet: DatanetId, payload: &[u8]) -> ContributionId {
    let id = NextContributionId::<Test>::get();
    assert_ok!(Datanets::contribute(
        RuntimeOrigin::signed(who),
        datanet,
        payload.to_vec()
    ));
    id
}

fn deposit_for(size: u64, per_byte: u64) -> u64 {
    BASE_DEPOSIT + per_byte * size
}

fn held(who: u64) -> u64 {
    Balances::balance_on_hold(&HoldReason::ContributionDeposit.into(), &who)
}

fn datanet_held(who: u64) -> u64 {
    Balances::balance_on_hold(&HoldReason::DatanetDeposit.into(), &who)
}

fn free(who: u64) -> u64 {
    Balances::balance(&who)
}

fn blake(b: &[u8]) -> H256 {
    H256(sp_io::hashing::blake2_256(b))
}

fn events() -> Vec<Ev> {
    System::events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Datanets(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn last_event() -> Ev {
    events().pop().expect("an event")
}

fn status(c: ContributionId) -> ContributionStatus {
    Contributions::<Test>::get(c).expect("exists").status
}

/// Merkle root recomputed independently of `openledger_primitives::datanets`: RFC 6962's
/// recursive definition (split at the largest power of two below n), hashing with sp-io.
fn independent_root(leaves: &[H256]) -> H256 {
    fn rec(d: &[H256]) -> [u8; 32] {
        if d.len() == 1 {
            let mut v = vec![0u8];
            v.extend_from_slice(d[0].as_bytes());
            return sp_io::hashing::blake2_256(&v);
        }
        let k = 1usize << (usize::BITS - 1 - (d.len() - 1).leading_zeros());
        let mut v = vec![1u8];
        v.extend_from_slice(&rec(&d[..k]));
        v.extend_from_slice(&rec(&d[k..]));
        sp_io::hashing::blake2_256(&v)
    }
    if leaves.is_empty() {
        return H256(sp_io::hashing::blake2_256(&[]));
    }
    H256(rec(leaves))
}

// ---------------------------------------------------------------------------------------------
// create_datanet
// ---------------------------------------------------------------------------------------------

#[test]
fn create_datanet_works() {
    build_and_execute(|| {
        let before = free(OWNER);
        let id = create(
            OWNER,
            Admission::AllowList,
            CurationPolicy::Owner,
            7,
            DepositPolicy::ForfeitOnReject,
        );
        assert_eq!(id, 0);
        assert_eq!(NextDatanetId::<Test>::get(), 1);
        let d = crate::Datanets::<Test>::get(id).unwrap();
        assert_eq!(d.owner, OWNER);
        assert_eq!(d.creator, OWNER);
        assert_eq!(d.creation_deposit, DATANET_DEPOSIT);
        assert_eq!(d.name.to_vec(), b"medical notes".to_vec());
        assert_eq!(d.admission, Admission::AllowList);
        assert_eq!(d.curation, CurationPolicy::Owner);
        assert_eq!(d.deposit_per_byte, 7);
        assert_eq!(d.deposit_policy, DepositPolicy::ForfeitOnReject);
        assert_eq!(d.status, DatanetStatus::Open);
        assert_eq!(d.created_at, 1);
        assert_eq!(
            (d.contribution_count, d.pending_count, d.accepted_count),
            (0, 0, 0)
        );
        assert_eq!(d.latest_version, 0);
        assert_eq!(datanet_held(OWNER), DATANET_DEPOSIT);
        assert_eq!(free(OWNER), before - DATANET_DEPOSIT);
        assert_eq!(
            last_event(),
            Ev::DatanetCreated {
                datanet: id,
                owner: OWNER,
                deposit: DATANET_DEPOSIT
            }
        );
        // Ids are sequential.
        assert_eq!(open_datanet(DepositPolicy::ReleaseAlways), 1);
    });
}

#[test]
fn create_datanet_errors() {
    build_and_execute(|| {
        let call = |who: u64, name: &[u8], desc: &[u8], lic: &[u8], t: TagsOf<Test>| {
            Datanets::create_datanet(
                RuntimeOrigin::signed(who),
                bytes(name),
                bytes(desc),
                bytes(lic),
                t,
                Admission::Open,
                CurationPolicy::Owner,
                1,
                DepositPolicy::ReleaseAlways,
            )
        };
        assert_noop!(
            call(OWNER, b"", b"d", b"l", tags(&[])),
            Error::<Test>::EmptyName
        );
        assert_noop!(
            call(OWNER, &[0xff, 0xfe], b"d", b"l", tags(&[])),
            Error::<Test>::InvalidUtf8
        );
        assert_noop!(
            call(OWNER, b"n", &[0xc3], b"l", tags(&[])),
            Error::<Test>::InvalidUtf8
        );
        assert_noop!(
            call(OWNER, b"n", b"d", &[0x80], tags(&[])),
            Error::<Test>::InvalidUtf8
        );
        let bad_tag: TagsOf<Test> = vec![bytes(&[0xff])].try_into().unwrap();
        assert_noop!(
            call(OWNER, b"n", b"d", b"l", bad_tag),
            Error::<Test>::InvalidUtf8
        );
        assert_noop!(
            call(OWNER, b"n", b"d", b"l", tags(&["ok", ""])),
            Error::<Test>::EmptyTag
        );
        // No account at all, and an account that cannot keep ED after the deposit.
        assert_noop!(
            call(NOBODY, b"n", b"d", b"l", tags(&[])),
            Error::<Test>::InsufficientBalance
        );
        Balances::set_balance(&BOB, DATANET_DEPOSIT + ED - 1);
        assert_noop!(
            call(BOB, b"n", b"d", b"l", tags(&[])),
            Error::<Test>::InsufficientBalance
        );
        NextDatanetId::<Test>::put(u32::MAX);
        assert_noop!(
            call(OWNER, b"n", b"d", b"l", tags(&[])),
            Error::<Test>::TooManyDatanets
        );
        assert_noop!(
            Datanets::create_datanet(
                RuntimeOrigin::none(),
                text("n"),
                text("d"),
                text("l"),
                tags(&[]),
                Admission::Open,
                CurationPolicy::Owner,
                1,
                DepositPolicy::ReleaseAlways,
            ),
            BadOrigin
        );
        NextDatanetId::<Test>::put(0);
        assert!(events().is_empty());
    });
}

#[test]
fn oversized_metadata_does_not_decode() {
    // Bounded arguments reject oversized input at decoding, before dispatch.
    let long = vec![b'a'; 33];
    assert!(BoundedText::<ConstU32<32>>::try_from(long.clone()).is_err());
    let encoded = long.encode();
    assert!(<BoundedText<ConstU32<32>> as codec::Decode>::decode(&mut &encoded[..]).is_err());
}

// ---------------------------------------------------------------------------------------------
// owner administration
// ---------------------------------------------------------------------------------------------

#[test]
fn update_metadata_works_and_keeps_unset_fields() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        assert_ok!(Datanets::update_metadata(
            RuntimeOrigin::signed(OWNER),
            id,
            Some(text("radiology")),
            None,
            Some(text("MIT")),
            Some(tags(&["x-ray"])),
        ));
        let d = crate::Datanets::<Test>::get(id).unwrap();
        assert_eq!(d.name.to_vec(), b"radiology".to_vec());
        assert_eq!(
            d.description.to_vec(),
            b"de-identified clinical notes".to_vec()
        );
        assert_eq!(d.license.to_vec(), b"MIT".to_vec());
        assert_eq!(d.tags, tags(&["x-ray"]));
        assert_eq!(last_event(), Ev::MetadataUpdated { datanet: id });
        assert_ok!(Datanets::update_metadata(
            RuntimeOrigin::signed(OWNER),
            id,
            None,
            Some(text("new description")),
            None,
            None
        ));
        let d = crate::Datanets::<Test>::get(id).unwrap();
        assert_eq!(d.name.to_vec(), b"radiology".to_vec());
        assert_eq!(d.description.to_vec(), b"new description".to_vec());
    });
}

#[test]
fn update_metadata_errors() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let upd = |who: u64,
                   d: DatanetId,
                   name: Option<BoundedText<ConstU32<32>>>,
                   desc: Option<&[u8]>| {
            Datanets::update_metadata(
                RuntimeOrigin::signed(who),
                d,
                name,
                desc.map(bytes),
                None,
                None,
            )
        };
        assert_noop!(
            upd(ALICE, id, Some(text("x")), None),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            upd(OWNER, 9, Some(text("x")), None),
            Error::<Test>::DatanetNotFound
        );
        assert_noop!(
            upd(OWNER, id, Some(text("")), None),
            Error::<Test>::EmptyName
        );
        assert_noop!(
            upd(OWNER, id, None, Some(&[0xff])),
            Error::<Test>::InvalidUtf8
        );
        assert_noop!(
            Datanets::update_metadata(
                RuntimeOrigin::signed(OWNER),
                id,
                None,
                None,
                None,
                Some(tags(&[""]))
            ),
            Error::<Test>::EmptyTag
        );
    });
}

#[test]
fn set_policies_works_and_errors() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        assert_ok!(Datanets::set_policies(
            RuntimeOrigin::signed(OWNER),
            id,
            Admission::AllowList,
            CurationPolicy::Owner
        ));
        let d = crate::Datanets::<Test>::get(id).unwrap();
        assert_eq!(
            (d.admission, d.curation),
            (Admission::AllowList, CurationPolicy::Owner)
        );
        assert_eq!(
            last_event(),
            Ev::PoliciesUpdated {
                datanet: id,
                admission: Admission::AllowList,
                curation: CurationPolicy::Owner
            }
        );
        assert_noop!(
            Datanets::set_policies(
                RuntimeOrigin::signed(ALICE),
                id,
                Admission::Open,
                CurationPolicy::Owner
            ),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Datanets::set_policies(
                RuntimeOrigin::signed(OWNER),
                7,
                Admission::Open,
                CurationPolicy::Owner
            ),
            Error::<Test>::DatanetNotFound
        );
    });
}

#[test]
fn curators_add_remove_and_errors() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        assert_ok!(Datanets::add_curator(
            RuntimeOrigin::signed(OWNER),
            id,
            CURATOR
        ));
        assert_eq!(
            last_event(),
            Ev::CuratorAdded {
                datanet: id,
                curator: CURATOR
            }
        );
        assert_noop!(
            Datanets::add_curator(RuntimeOrigin::signed(OWNER), id, CURATOR),
            Error::<Test>::AlreadyCurator
        );
        assert_noop!(
            Datanets::add_curator(RuntimeOrigin::signed(ALICE), id, BOB),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Datanets::add_curator(RuntimeOrigin::signed(OWNER), 5, BOB),
            Error::<Test>::DatanetNotFound
        );
        assert_ok!(Datanets::add_curator(RuntimeOrigin::signed(OWNER), id, 10));
        assert_ok!(Datanets::add_curator(RuntimeOrigin::signed(OWNER), id, 11));
        assert_eq!(Curators::<Test>::get(id).len() as u32, MAX_CURATORS);
        assert_noop!(
            Datanets::add_curator(RuntimeOrigin::signed(OWNER), id, 12),
            Error::<Test>::TooManyCurators
        );
        assert_ok!(Datanets::remove_curator(
            RuntimeOrigin::signed(OWNER),
            id,
            10
        ));
        assert_eq!(
            last_event(),
            Ev::CuratorRemoved {
                datanet: id,
                curator: 10
            }
        );
        assert_eq!(Curators::<Test>::get(id).to_vec(), vec![CURATOR, 11]);
        assert_noop!(
            Datanets::remove_curator(RuntimeOrigin::signed(OWNER), id, 10),
            Error::<Test>::CuratorNotFound
        );
        assert_noop!(
            Datanets::remove_curator(RuntimeOrigin::signed(CURATOR), id, 11),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Datanets::remove_curator(RuntimeOrigin::signed(OWNER), 5, 11),
            Error::<Test>::DatanetNotFound
        );
    });
}

#[test]
fn allow_list_works_and_errors() {
    build_and_execute(|| {
        let id = create(
            OWNER,
            Admission::AllowList,
            CurationPolicy::Owner,
            1,
            DepositPolicy::ReleaseAlways,
        );
        assert_noop!(
            Datanets::contribute(RuntimeOrigin::signed(ALICE), id, b"a".to_vec()),
            Error::<Test>::NotAdmitted
        );
        // The owner is always admitted.
        contribute(OWNER, id, b"owner data");
        assert_ok!(Datanets::allow_contributor(
            RuntimeOrigin::signed(OWNER),
            id,
            ALICE
        ));
        assert_eq!(
            last_event(),
            Ev::ContributorAllowed {
                datanet: id,
                who: ALICE
            }
        );
        assert!(Datanets::api_can_contribute(id, ALICE));
        contribute(ALICE, id, b"alice data");
        assert_noop!(
            Datanets::allow_contributor(RuntimeOrigin::signed(OWNER), id, ALICE),
            Error::<Test>::AlreadyAllowed
        );
        assert_noop!(
            Datanets::allow_contributor(RuntimeOrigin::signed(ALICE), id, BOB),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Datanets::allow_contributor(RuntimeOrigin::signed(OWNER), 3, BOB),
            Error::<Test>::DatanetNotFound
        );
        assert_ok!(Datanets::disallow_contributor(
            RuntimeOrigin::signed(OWNER),
            id,
            ALICE
        ));
        assert_eq!(
            last_event(),
            Ev::ContributorDisallowed {
                datanet: id,
                who: ALICE
            }
        );
        assert!(!Datanets::api_can_contribute(id, ALICE));
        assert_noop!(
            Datanets::contribute(RuntimeOrigin::signed(ALICE), id, b"more".to_vec()),
            Error::<Test>::NotAdmitted
        );
        assert_noop!(
            Datanets::disallow_contributor(RuntimeOrigin::signed(OWNER), id, ALICE),
            Error::<Test>::NotAllowed
        );
        assert_noop!(
            Datanets::disallow_contributor(RuntimeOrigin::signed(BOB), id, ALICE),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Datanets::disallow_contributor(RuntimeOrigin::signed(OWNER), 3, ALICE),
            Error::<Test>::DatanetNotFound
        );
        // Switching to open admits everyone.
        assert_ok!(Datanets::set_policies(
            RuntimeOrigin::signed(OWNER),
            id,
            Admission::Open,
            CurationPolicy::Owner
        ));
        contribute(BOB, id, b"bob data");
    });
}

#[test]
fn transfer_ownership_works_and_errors() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        assert_noop!(
            Datanets::transfer_ownership(RuntimeOrigin::signed(OWNER), id, OWNER),
            Error::<Test>::AlreadyOwner
        );
        assert_noop!(
            Datanets::transfer_ownership(RuntimeOrigin::signed(ALICE), id, ALICE),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Datanets::transfer_ownership(RuntimeOrigin::signed(OWNER), 4, ALICE),
            Error::<Test>::DatanetNotFound
        );
        assert_ok!(Datanets::transfer_ownership(
            RuntimeOrigin::signed(OWNER),
            id,
            BOB
        ));
        assert_eq!(
            last_event(),
            Ev::OwnershipTransferred {
                datanet: id,
                from: OWNER,
                to: BOB
            }
        );
        let d = crate::Datanets::<Test>::get(id).unwrap();
        assert_eq!((d.owner, d.creator), (BOB, OWNER));
        // The creation deposit stays with the creator.
        assert_eq!(datanet_held(OWNER), DATANET_DEPOSIT);
        assert_eq!(datanet_held(BOB), 0);
        // The new owner administers; the old one no longer does.
        assert_noop!(
            Datanets::close_datanet(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::NotOwner
        );
        assert_ok!(Datanets::add_curator(
            RuntimeOrigin::signed(BOB),
            id,
            CURATOR
        ));
    });
}

#[test]
fn close_datanet_works_and_errors() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let pending = contribute(ALICE, id, b"pending");
        let accepted = contribute(ALICE, id, b"accepted");
        let to_withdraw = contribute(BOB, id, b"withdraw me");
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), accepted));
        assert_noop!(
            Datanets::close_datanet(RuntimeOrigin::signed(ALICE), id),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Datanets::close_datanet(RuntimeOrigin::signed(OWNER), 9),
            Error::<Test>::DatanetNotFound
        );
        assert_ok!(Datanets::close_datanet(RuntimeOrigin::signed(OWNER), id));
        assert_eq!(last_event(), Ev::DatanetClosed { datanet: id });
        assert_eq!(
            crate::Datanets::<Test>::get(id).unwrap().status,
            DatanetStatus::Closed
        );
        assert_noop!(
            Datanets::close_datanet(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::AlreadyClosed
        );
        assert_noop!(
            Datanets::contribute(RuntimeOrigin::signed(ALICE), id, b"late".to_vec()),
            Error::<Test>::DatanetClosed
        );
        assert!(!Datanets::api_can_contribute(id, ALICE));
        // Existing contributions stay retrievable and curatable; versions can be published.
        assert!(Datanets::api_contribution(accepted).is_some());
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), pending));
        assert_ok!(Datanets::withdraw(RuntimeOrigin::signed(BOB), to_withdraw));
        assert_ok!(Datanets::publish_version(RuntimeOrigin::signed(OWNER), id));
        assert_eq!(Versions::<Test>::get(id, 1).unwrap().contribution_count, 2);
    });
}

// ---------------------------------------------------------------------------------------------
// contribute
// ---------------------------------------------------------------------------------------------

#[test]
fn contribute_works() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        System::set_block_number(7);
        System::set_extrinsic_index(3);
        let payload = b"the quick brown fox".to_vec();
        let before = free(ALICE);
        let c = contribute(ALICE, id, &payload);
        let deposit = deposit_for(payload.len() as u64, 2);
        let stored = Contributions::<Test>::get(c).unwrap();
        assert_eq!(stored.datanet, id);
        assert_eq!(stored.index, 0);
        assert_eq!(stored.contributor, ALICE);
        assert_eq!(stored.content_hash, blake(&payload));
        assert_eq!(stored.size, payload.len() as u32);
        assert_eq!(stored.block, 7);
        assert_eq!(stored.extrinsic_index, 3);
        assert_eq!(stored.status, ContributionStatus::Pending);
        assert_eq!(stored.deposit, deposit);
        assert_eq!(stored.accepted_index, None);
        assert_eq!(held(ALICE), deposit);
        assert_eq!(free(ALICE), before - deposit);
        assert_eq!(DatanetContributions::<Test>::get(id, 0), Some(c));
        assert_eq!(
            ContributionByHash::<Test>::get(id, blake(&payload)),
            Some(c)
        );
        let d = crate::Datanets::<Test>::get(id).unwrap();
        assert_eq!(
            (d.contribution_count, d.pending_count, d.accepted_count),
            (1, 1, 0)
        );
        assert_eq!(NextContributionId::<Test>::get(), c + 1);
        assert_eq!(
            last_event(),
            Ev::Contributed {
                datanet: id,
                contribution: c,
                contributor: ALICE,
                content_hash: blake(&payload),
                size: payload.len() as u32,
                deposit,
            }
        );
        // The same bytes may go to another datanet.
        let other = open_datanet(DepositPolicy::ReleaseAlways);
        let c2 = contribute(BOB, other, &payload);
        assert_eq!(Contributions::<Test>::get(c2).unwrap().index, 0);
        // Zero deposit datanets hold nothing beyond the base deposit.
        let free_net = create(
            OWNER,
            Admission::Open,
            CurationPolicy::Owner,
            0,
            DepositPolicy::ReleaseAlways,
        );
        let c3 = contribute(BOB, free_net, b"cheap");
        assert_eq!(
            Contributions::<Test>::get(c3).unwrap().deposit,
            BASE_DEPOSIT
        );
    });
}

#[test]
fn contribute_indexes_the_payload_in_the_block_body() {
    let mut ext = new_test_ext();
    let payload = b"indexed bytes".to_vec();
    ext.execute_with(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        System::set_extrinsic_index(2);
        // A failing contribution indexes nothing.
        assert_noop!(
            Datanets::contribute(RuntimeOrigin::signed(NOBODY), id, payload.clone()),
            Error::<Test>::InsufficientBalance
        );
        contribute(ALICE, id, &payload);
    });
    let ops = ext.overlayed_changes().transaction_index_ops().to_vec();
    match ops.as_slice() {
        [sp_state_machine::IndexOperation::Insert {
            extrinsic,
            hash,
            size,
        }] => {
            assert_eq!(*extrinsic, 2);
            assert_eq!(hash, &blake(&payload).0.to_vec());
            assert_eq!(*size, payload.len() as u32);
        }
        other => panic!("expected exactly one index insert, got {other:?}"),
    }
}

#[test]
fn payload_is_the_trailing_bytes_of_the_encoded_call() {
    // `transaction_index::index(_, size, _)` indexes the last `size` bytes of the extrinsic:
    // they must be exactly the payload.
    let payload: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let call = RuntimeCall::Datanets(crate::Call::<Test>::contribute {
        datanet: 42,
        payload: payload.clone(),
    });
    let encoded = call.encode();
    assert!(encoded.len() > payload.len());
    assert_eq!(&encoded[encoded.len() - payload.len()..], &payload[..]);
}

#[test]
fn contribute_errors() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let call = |who: u64, d: DatanetId, p: Vec<u8>| {
            Datanets::contribute(RuntimeOrigin::signed(who), d, p)
        };
        assert_noop!(call(ALICE, id, vec![]), Error::<Test>::EmptyPayload);
        assert_noop!(
            call(ALICE, id, vec![7u8; MAX_PAYLOAD as usize + 1]),
            Error::<Test>::PayloadTooLarge
        );
        assert_noop!(
            call(ALICE, 9, b"x".to_vec()),
            Error::<Test>::DatanetNotFound
        );
        // POOR can pay the base deposit but not 2 per byte of 100 bytes.
        assert_noop!(
            call(POOR, id, vec![1u8; 100]),
            Error::<Test>::InsufficientBalance
        );
        assert_noop!(
            call(NOBODY, id, b"x".to_vec()),
            Error::<Test>::InsufficientBalance
        );
        contribute(ALICE, id, b"original");
        // Same bytes, same datanet: by anyone.
        assert_noop!(
            call(BOB, id, b"original".to_vec()),
            Error::<Test>::DuplicateContribution
        );
        assert_noop!(
            call(ALICE, id, b"original".to_vec()),
            Error::<Test>::DuplicateContribution
        );
        // Not inside an extrinsic.
        frame_support::storage::unhashed::kill(sp_core::storage::well_known_keys::EXTRINSIC_INDEX);
        assert_noop!(call(ALICE, id, b"new".to_vec()), Error::<Test>::BadContext);
        System::set_extrinsic_index(0);
        NextContributionId::<Test>::put(u64::MAX);
        assert_noop!(
            call(ALICE, id, b"new".to_vec()),
            Error::<Test>::TooManyContributions
        );
        NextContributionId::<Test>::put(1);
        assert_noop!(
            Datanets::contribute(RuntimeOrigin::none(), id, b"new".to_vec()),
            BadOrigin
        );
        // A closed datanet and a permissioned one.
        let closed = open_datanet(DepositPolicy::ReleaseAlways);
        assert_ok!(Datanets::close_datanet(
            RuntimeOrigin::signed(OWNER),
            closed
        ));
        assert_noop!(
            call(ALICE, closed, b"new".to_vec()),
            Error::<Test>::DatanetClosed
        );
        let private = create(
            OWNER,
            Admission::AllowList,
            CurationPolicy::Owner,
            1,
            DepositPolicy::ReleaseAlways,
        );
        assert_noop!(
            call(ALICE, private, b"new".to_vec()),
            Error::<Test>::NotAdmitted
        );
    });
}

#[test]
fn contribute_accepts_exactly_max_payload() {
    build_and_execute(|| {
        let id = create(
            OWNER,
            Admission::Open,
            CurationPolicy::Owner,
            1,
            DepositPolicy::ReleaseAlways,
        );
        let payload = vec![0xabu8; MAX_PAYLOAD as usize];
        let c = contribute(ALICE, id, &payload);
        let stored = Contributions::<Test>::get(c).unwrap();
        assert_eq!(stored.size, MAX_PAYLOAD);
        assert_eq!(stored.deposit, deposit_for(MAX_PAYLOAD as u64, 1));
        assert_eq!(held(ALICE), stored.deposit);
    });
}

#[test]
fn insufficient_balance_leaves_account_untouched() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        // Exactly enough to keep ED plus the deposit of a 10-byte payload: it works at 10 bytes
        // and fails at 11.
        Balances::set_balance(&BOB, ED + deposit_for(10, 2));
        assert_noop!(
            Datanets::contribute(RuntimeOrigin::signed(BOB), id, vec![1u8; 11]),
            Error::<Test>::InsufficientBalance
        );
        assert_eq!(held(BOB), 0);
        assert_eq!(free(BOB), ED + deposit_for(10, 2));
        contribute(BOB, id, &[1u8; 10]);
        assert_eq!(free(BOB), ED);
        assert_eq!(held(BOB), deposit_for(10, 2));
    });
}

// ---------------------------------------------------------------------------------------------
// curation
// ---------------------------------------------------------------------------------------------

#[test]
fn accept_works_for_owner_and_curators() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        assert_ok!(Datanets::add_curator(
            RuntimeOrigin::signed(OWNER),
            id,
            CURATOR
        ));
        let a = contribute(ALICE, id, b"first");
        let b = contribute(BOB, id, b"second!");
        let held_before = held(ALICE);
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(CURATOR), b));
        assert_eq!(
            last_event(),
            Ev::Accepted {
                datanet: id,
                contribution: b,
                curator: CURATOR,
                accepted_index: 0
            }
        );
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), a));
        assert_eq!(
            last_event(),
            Ev::Accepted {
                datanet: id,
                contribution: a,
                curator: OWNER,
                accepted_index: 1
            }
        );
        let stored = Contributions::<Test>::get(a).unwrap();
        assert_eq!(
            (stored.status, stored.accepted_index),
            (ContributionStatus::Accepted, Some(1))
        );
        assert_eq!(AcceptedContributions::<Test>::get(id, 0), Some(b));
        assert_eq!(AcceptedContributions::<Test>::get(id, 1), Some(a));
        let d = crate::Datanets::<Test>::get(id).unwrap();
        assert_eq!(
            (d.pending_count, d.accepted_count, d.accepted_bytes),
            (0, 2, 12)
        );
        // Accepted deposits stay on hold.
        assert_eq!(held(ALICE), held_before);
        assert_eq!(held(BOB), deposit_for(7, 2));
    });
}

#[test]
fn accept_errors() {
    build_and_execute(|| {
        let id = create(
            OWNER,
            Admission::Open,
            CurationPolicy::Owner,
            1,
            DepositPolicy::ReleaseAlways,
        );
        assert_ok!(Datanets::add_curator(
            RuntimeOrigin::signed(OWNER),
            id,
            CURATOR
        ));
        let c = contribute(ALICE, id, b"data");
        // Curators do not curate under the `Owner` policy; others never do.
        assert_noop!(
            Datanets::accept(RuntimeOrigin::signed(CURATOR), c),
            Error::<Test>::NotCurator
        );
        assert_noop!(
            Datanets::accept(RuntimeOrigin::signed(ALICE), c),
            Error::<Test>::NotCurator
        );
        assert_noop!(
            Datanets::accept(RuntimeOrigin::signed(OWNER), 77),
            Error::<Test>::ContributionNotFound
        );
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), c));
        assert_noop!(
            Datanets::accept(RuntimeOrigin::signed(OWNER), c),
            Error::<Test>::NotPending
        );
        let r = contribute(ALICE, id, b"rejected");
        assert_ok!(Datanets::reject(RuntimeOrigin::signed(OWNER), r, text("")));
        assert_noop!(
            Datanets::accept(RuntimeOrigin::signed(OWNER), r),
            Error::<Test>::NotPending
        );
        // A corrupted frontier is caught, not panicked on.
        let p = contribute(ALICE, id, b"pending");
        AcceptedFrontier::<Test>::remove(id);
        assert_noop!(
            Datanets::accept(RuntimeOrigin::signed(OWNER), p),
            Error::<Test>::CorruptFrontier
        );
        // Restore it so try_state passes.
        let mut f = Vec::new();
        assert!(openledger_primitives::datanets::frontier_append(
            &mut f,
            0,
            &blake(b"data")
        ));
        AcceptedFrontier::<Test>::insert(id, Frontier::try_from(f).unwrap());
    });
}

#[test]
fn accept_rejects_accepted_count_overflow() {
    new_test_ext().execute_with(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let c = contribute(ALICE, id, b"data");
        crate::Datanets::<Test>::mutate(id, |d| d.as_mut().unwrap().accepted_count = u32::MAX);
        assert_noop!(
            Datanets::accept(RuntimeOrigin::signed(OWNER), c),
            Error::<Test>::TooManyContributions
        );
    });
}

#[test]
fn reject_releases_deposit_under_release_policy() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let before = free(ALICE);
        let c = contribute(ALICE, id, b"spam?");
        let deposit = deposit_for(5, 2);
        assert_ok!(Datanets::reject(
            RuntimeOrigin::signed(OWNER),
            c,
            text("off topic")
        ));
        assert_eq!(status(c), ContributionStatus::Rejected);
        assert_eq!(held(ALICE), 0);
        assert_eq!(free(ALICE), before);
        assert_eq!(
            RejectionReasons::<Test>::get(c).unwrap().to_vec(),
            b"off topic".to_vec()
        );
        let ev = events();
        assert_eq!(
            ev[ev.len() - 2],
            Ev::DepositReleased {
                contribution: c,
                who: ALICE,
                amount: deposit
            }
        );
        assert_eq!(
            ev[ev.len() - 1],
            Ev::Rejected {
                datanet: id,
                contribution: c,
                curator: OWNER,
                reason: text("off topic")
            }
        );
        let d = crate::Datanets::<Test>::get(id).unwrap();
        assert_eq!(
            (d.pending_count, d.accepted_count, d.contribution_count),
            (0, 0, 1)
        );
        // Rejected bytes stay blocked.
        assert_noop!(
            Datanets::contribute(RuntimeOrigin::signed(BOB), id, b"spam?".to_vec()),
            Error::<Test>::DuplicateContribution
        );
        assert_eq!(
            Datanets::api_contribution(c).unwrap().rejection_reason,
            Some("off topic".into())
        );
    });
}

#[test]
fn reject_forfeits_deposit_to_owner() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ForfeitOnReject);
        let alice_before = free(ALICE);
        let owner_before = free(OWNER);
        let issuance = Balances::total_issuance();
        let c = contribute(ALICE, id, b"junk");
        let deposit = deposit_for(4, 2);
        assert_ok!(Datanets::reject(RuntimeOrigin::signed(OWNER), c, text("")));
        assert_eq!(held(ALICE), 0);
        assert_eq!(free(ALICE), alice_before - deposit);
        assert_eq!(free(OWNER), owner_before + deposit);
        assert_eq!(Balances::total_issuance(), issuance);
        assert!(RejectionReasons::<Test>::get(c).is_none());
        let ev = events();
        assert_eq!(
            ev[ev.len() - 2],
            Ev::DepositForfeited {
                contribution: c,
                who: ALICE,
                amount: deposit,
                beneficiary: Some(OWNER)
            }
        );
        assert_eq!(
            Datanets::api_contribution(c).unwrap().rejection_reason,
            None
        );
    });
}

#[test]
fn forfeit_is_burned_when_owner_cannot_receive_it() {
    build_and_execute(|| {
        // The owner is an account that does not exist and the deposit (3) is below ED (5).
        let id = create(
            OWNER,
            Admission::Open,
            CurationPolicy::Owner,
            1,
            DepositPolicy::ForfeitOnReject,
        );
        assert_ok!(Datanets::transfer_ownership(
            RuntimeOrigin::signed(OWNER),
            id,
            NOBODY
        ));
        let c = contribute(ALICE, id, b"ab");
        let deposit = deposit_for(2, 1);
        assert!(deposit < ED);
        let issuance = Balances::total_issuance();
        assert_ok!(Datanets::reject(
            RuntimeOrigin::signed(NOBODY),
            c,
            text("no")
        ));
        assert_eq!(free(NOBODY), 0);
        assert_eq!(held(ALICE), 0);
        assert_eq!(Balances::total_issuance(), issuance - deposit);
        let ev = events();
        assert_eq!(
            ev[ev.len() - 2],
            Ev::DepositForfeited {
                contribution: c,
                who: ALICE,
                amount: deposit,
                beneficiary: None
            }
        );
    });
}

#[test]
fn reject_errors() {
    build_and_execute(|| {
        let id = create(
            OWNER,
            Admission::Open,
            CurationPolicy::Owner,
            1,
            DepositPolicy::ReleaseAlways,
        );
        assert_ok!(Datanets::add_curator(
            RuntimeOrigin::signed(OWNER),
            id,
            CURATOR
        ));
        let c = contribute(ALICE, id, b"data");
        assert_noop!(
            Datanets::reject(RuntimeOrigin::signed(CURATOR), c, text("x")),
            Error::<Test>::NotCurator
        );
        assert_noop!(
            Datanets::reject(RuntimeOrigin::signed(OWNER), c, bytes(&[0xff, 0x00])),
            Error::<Test>::InvalidUtf8
        );
        assert_noop!(
            Datanets::reject(RuntimeOrigin::signed(OWNER), 55, text("x")),
            Error::<Test>::ContributionNotFound
        );
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), c));
        assert_noop!(
            Datanets::reject(RuntimeOrigin::signed(OWNER), c, text("x")),
            Error::<Test>::NotPending
        );
        let w = contribute(ALICE, id, b"withdrawn");
        assert_ok!(Datanets::withdraw(RuntimeOrigin::signed(ALICE), w));
        assert_noop!(
            Datanets::reject(RuntimeOrigin::signed(OWNER), w, text("x")),
            Error::<Test>::NotPending
        );
    });
}

#[test]
fn withdraw_releases_or_forfeits_per_policy() {
    build_and_execute(|| {
        // ForfeitOnReject: a withdrawal gets the deposit back, and frees the content hash.
        let id = open_datanet(DepositPolicy::ForfeitOnReject);
        let before = free(ALICE);
        let c = contribute(ALICE, id, b"oops");
        assert_ok!(Datanets::withdraw(RuntimeOrigin::signed(ALICE), c));
        assert_eq!(status(c), ContributionStatus::Withdrawn);
        assert_eq!(free(ALICE), before);
        assert_eq!(held(ALICE), 0);
        let ev = events();
        assert_eq!(
            ev[ev.len() - 2],
            Ev::DepositReleased {
                contribution: c,
                who: ALICE,
                amount: deposit_for(4, 2)
            }
        );
        assert_eq!(
            ev[ev.len() - 1],
            Ev::Withdrawn {
                datanet: id,
                contribution: c
            }
        );
        assert!(ContributionByHash::<Test>::get(id, blake(b"oops")).is_none());
        let again = contribute(ALICE, id, b"oops");
        assert_eq!(Contributions::<Test>::get(again).unwrap().index, 1);

        // ForfeitOnRejectOrWithdraw: the deposit goes to the owner.
        let strict = open_datanet(DepositPolicy::ForfeitOnRejectOrWithdraw);
        let owner_before = free(OWNER);
        let c = contribute(BOB, strict, b"strict");
        assert_ok!(Datanets::withdraw(RuntimeOrigin::signed(BOB), c));
        assert_eq!(free(OWNER), owner_before + deposit_for(6, 2));
        assert_eq!(held(BOB), 0);
        let ev = events();
        assert_eq!(
            ev[ev.len() - 2],
            Ev::DepositForfeited {
                contribution: c,
                who: BOB,
                amount: deposit_for(6, 2),
                beneficiary: Some(OWNER)
            }
        );
        let d = crate::Datanets::<Test>::get(strict).unwrap();
        assert_eq!((d.pending_count, d.contribution_count), (0, 1));
    });
}

#[test]
fn withdraw_errors() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let c = contribute(ALICE, id, b"mine");
        assert_noop!(
            Datanets::withdraw(RuntimeOrigin::signed(BOB), c),
            Error::<Test>::NotContributor
        );
        assert_noop!(
            Datanets::withdraw(RuntimeOrigin::signed(OWNER), c),
            Error::<Test>::NotContributor
        );
        assert_noop!(
            Datanets::withdraw(RuntimeOrigin::signed(ALICE), 42),
            Error::<Test>::ContributionNotFound
        );
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), c));
        assert_noop!(
            Datanets::withdraw(RuntimeOrigin::signed(ALICE), c),
            Error::<Test>::CannotWithdrawAccepted
        );
        let r = contribute(ALICE, id, b"rejected");
        assert_ok!(Datanets::reject(RuntimeOrigin::signed(OWNER), r, text("")));
        assert_noop!(
            Datanets::withdraw(RuntimeOrigin::signed(ALICE), r),
            Error::<Test>::NotPending
        );
        let w = contribute(ALICE, id, b"twice");
        assert_ok!(Datanets::withdraw(RuntimeOrigin::signed(ALICE), w));
        assert_noop!(
            Datanets::withdraw(RuntimeOrigin::signed(ALICE), w),
            Error::<Test>::NotPending
        );
    });
}

// ---------------------------------------------------------------------------------------------
// versions
// ---------------------------------------------------------------------------------------------

#[test]
fn publish_version_works_and_is_immutable() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        assert_ok!(Datanets::add_curator(
            RuntimeOrigin::signed(OWNER),
            id,
            CURATOR
        ));
        let payloads: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10 + i as usize]).collect();
        let ids: Vec<_> = payloads.iter().map(|p| contribute(ALICE, id, p)).collect();
        // Accept in a different order than contributed: 3, 0, 4. 1 stays pending, 2 rejected.
        for &i in &[3usize, 0, 4] {
            assert_ok!(Datanets::accept(RuntimeOrigin::signed(CURATOR), ids[i]));
        }
        assert_ok!(Datanets::reject(
            RuntimeOrigin::signed(CURATOR),
            ids[2],
            text("dup")
        ));
        System::set_block_number(20);
        assert_ok!(Datanets::publish_version(
            RuntimeOrigin::signed(CURATOR),
            id
        ));
        let order = [3usize, 0, 4];
        let leaves: Vec<H256> = order.iter().map(|&i| blake(&payloads[i])).collect();
        let root = independent_root(&leaves);
        let total: u64 = order.iter().map(|&i| payloads[i].len() as u64).sum();
        let v1 = Versions::<Test>::get(id, 1).unwrap();
        assert_eq!(
            v1,
            VersionInfo {
                datanet: id,
                version: 1,
                contribution_count: 3,
                total_bytes: total,
                merkle_root: root,
                published_at: 20
            }
        );
        assert_eq!(
            last_event(),
            Ev::VersionPublished {
                datanet: id,
                version: 1,
                contribution_count: 3,
                total_bytes: total,
                merkle_root: root
            }
        );
        assert_eq!(crate::Datanets::<Test>::get(id).unwrap().latest_version, 1);

        // Accepting more does not change version 1; version 2 extends it.
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), ids[1]));
        assert_ok!(Datanets::publish_version(RuntimeOrigin::signed(OWNER), id));
        assert_eq!(Versions::<Test>::get(id, 1).unwrap(), v1);
        let v2 = Versions::<Test>::get(id, 2).unwrap();
        let mut leaves2 = leaves.clone();
        leaves2.push(blake(&payloads[1]));
        assert_eq!(v2.contribution_count, 4);
        assert_eq!(v2.total_bytes, total + payloads[1].len() as u64);
        assert_eq!(v2.merkle_root, independent_root(&leaves2));
        let in_v1: Vec<_> = Datanets::api_version_contributions(id, 1, 0, 10)
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(in_v1, vec![ids[3], ids[0], ids[4]]);
    });
}

#[test]
fn publish_version_errors() {
    build_and_execute(|| {
        let id = create(
            OWNER,
            Admission::Open,
            CurationPolicy::Owner,
            1,
            DepositPolicy::ReleaseAlways,
        );
        assert_ok!(Datanets::add_curator(
            RuntimeOrigin::signed(OWNER),
            id,
            CURATOR
        ));
        assert_noop!(
            Datanets::publish_version(RuntimeOrigin::signed(OWNER), 9),
            Error::<Test>::DatanetNotFound
        );
        assert_noop!(
            Datanets::publish_version(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::EmptyVersion
        );
        // Pending contributions alone do not make a version.
        let c = contribute(ALICE, id, b"x");
        assert_noop!(
            Datanets::publish_version(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::EmptyVersion
        );
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), c));
        assert_noop!(
            Datanets::publish_version(RuntimeOrigin::signed(CURATOR), id),
            Error::<Test>::NotCurator
        );
        assert_noop!(
            Datanets::publish_version(RuntimeOrigin::signed(ALICE), id),
            Error::<Test>::NotCurator
        );
        assert_ok!(Datanets::publish_version(RuntimeOrigin::signed(OWNER), id));
        assert_noop!(
            Datanets::publish_version(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::NothingNewToPublish
        );
    });
}

#[test]
fn publish_version_catches_corruption_and_overflow() {
    new_test_ext().execute_with(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let c = contribute(ALICE, id, b"x");
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), c));
        let frontier = AcceptedFrontier::<Test>::take(id);
        assert_noop!(
            Datanets::publish_version(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::CorruptFrontier
        );
        AcceptedFrontier::<Test>::insert(id, frontier);
        crate::Datanets::<Test>::mutate(id, |d| d.as_mut().unwrap().latest_version = u32::MAX);
        assert_noop!(
            Datanets::publish_version(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::TooManyVersions
        );
    });
}

#[test]
fn merkle_roots_match_independent_recomputation_for_many_sizes() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let mut leaves = Vec::new();
        for n in 1..=33u32 {
            let payload = format!("contribution number {n}").into_bytes();
            let c = contribute(ALICE, id, &payload);
            assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), c));
            leaves.push(blake(&payload));
            assert_ok!(Datanets::publish_version(RuntimeOrigin::signed(OWNER), id));
            let v = Versions::<Test>::get(id, n).unwrap();
            assert_eq!(v.contribution_count, n);
            assert_eq!(v.merkle_root, independent_root(&leaves), "n = {n}");
            assert_eq!(
                v.merkle_root,
                openledger_primitives::datanets::merkle_root(&leaves)
            );
            // Every leaf has a proof against the published root.
            for (i, leaf) in leaves.iter().enumerate() {
                let proof = openledger_primitives::datanets::merkle_proof(&leaves, i).unwrap();
                assert!(openledger_primitives::datanets::verify_merkle_proof(
                    &v.merkle_root,
                    leaf,
                    i as u64,
                    n as u64,
                    &proof
                ));
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// deposit accounting
// ---------------------------------------------------------------------------------------------

#[test]
fn holds_always_equal_pending_plus_accepted_deposits() {
    build_and_execute(|| {
        let policies = [
            DepositPolicy::ReleaseAlways,
            DepositPolicy::ForfeitOnReject,
            DepositPolicy::ForfeitOnRejectOrWithdraw,
        ];
        let nets: Vec<_> = policies.iter().map(|p| open_datanet(*p)).collect();
        let who = [ALICE, BOB, CURATOR];
        // A deterministic pseudo-random walk over contribute / accept / reject / withdraw.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut made: Vec<ContributionId> = Vec::new();
        for step in 0..300u32 {
            let r = next();
            match r % 4 {
                0 | 1 => {
                    let net = nets[(r >> 8) as usize % nets.len()];
                    let acct = who[(r >> 16) as usize % who.len()];
                    let len = 1 + (r >> 24) as usize % 64;
                    let payload: Vec<u8> = format!("{step}:{r}")
                        .into_bytes()
                        .into_iter()
                        .cycle()
                        .take(len.max(8))
                        .collect();
                    if Datanets::contribute(RuntimeOrigin::signed(acct), net, payload).is_ok() {
                        made.push(NextContributionId::<Test>::get() - 1);
                    }
                }
                2 if !made.is_empty() => {
                    let c = made[(r >> 8) as usize % made.len()];
                    if (r >> 20) % 2 == 0 {
                        let _ = Datanets::accept(RuntimeOrigin::signed(OWNER), c);
                    } else {
                        let _ = Datanets::reject(RuntimeOrigin::signed(OWNER), c, text("r"));
                    }
                }
                _ if !made.is_empty() => {
                    let c = made[(r >> 8) as usize % made.len()];
                    let contributor = Contributions::<Test>::get(c).unwrap().contributor;
                    let _ = Datanets::withdraw(RuntimeOrigin::signed(contributor), c);
                }
                _ => {}
            }
            // Explicit per-account check, independent of try_state's bookkeeping.
            for acct in who {
                let expected: u64 = Contributions::<Test>::iter_values()
                    .filter(|c| {
                        c.contributor == acct
                            && matches!(
                                c.status,
                                ContributionStatus::Pending | ContributionStatus::Accepted
                            )
                    })
                    .map(|c| c.deposit)
                    .sum();
                assert_eq!(held(acct), expected, "step {step}");
            }
            Datanets::do_try_state().expect("invariants hold at every step");
        }
        // The walk exercised every status.
        for s in [
            ContributionStatus::Pending,
            ContributionStatus::Accepted,
            ContributionStatus::Rejected,
            ContributionStatus::Withdrawn,
        ] {
            assert!(
                Contributions::<Test>::iter_values().any(|c| c.status == s),
                "{s:?} reached"
            );
        }
    });
}

#[test]
fn try_state_detects_inconsistencies() {
    new_test_ext().execute_with(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let c = contribute(ALICE, id, b"data");
        assert_ok!(Datanets::do_try_state());
        // Funds released behind the pallet's back.
        let reason: RuntimeHoldReason = HoldReason::ContributionDeposit.into();
        assert_ok!(<Balances as frame_support::traits::fungible::MutateHold<
            u64,
        >>::release(
            &reason,
            &ALICE,
            1,
            frame_support::traits::tokens::Precision::Exact
        ));
        assert!(Datanets::do_try_state().is_err());
        assert_ok!(<Balances as frame_support::traits::fungible::MutateHold<
            u64,
        >>::hold(&reason, &ALICE, 1));
        assert_ok!(Datanets::do_try_state());
        // A wrong counter.
        crate::Datanets::<Test>::mutate(id, |d| d.as_mut().unwrap().pending_count = 5);
        assert!(Datanets::do_try_state().is_err());
        crate::Datanets::<Test>::mutate(id, |d| d.as_mut().unwrap().pending_count = 1);
        // A tampered version root.
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), c));
        assert_ok!(Datanets::publish_version(RuntimeOrigin::signed(OWNER), id));
        assert_ok!(Datanets::do_try_state());
        Versions::<Test>::mutate(id, 1, |v| {
            v.as_mut().unwrap().merkle_root = H256::repeat_byte(1)
        });
        assert!(Datanets::do_try_state().is_err());
    });
}

// ---------------------------------------------------------------------------------------------
// runtime API helpers and DatanetInspect
// ---------------------------------------------------------------------------------------------

#[test]
fn api_lists_are_paged_and_clamped() {
    build_and_execute(|| {
        for _ in 0..6 {
            open_datanet(DepositPolicy::ReleaseAlways);
        }
        let ids =
            |v: Vec<DatanetInfo<u64, u64, u64>>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(ids(Datanets::api_datanets(0, 100)), vec![0, 1, 2, 3]); // clamped to PAGE
        assert_eq!(ids(Datanets::api_datanets(4, 4)), vec![4, 5]);
        assert_eq!(ids(Datanets::api_datanets(1, 2)), vec![1, 2]);
        assert!(Datanets::api_datanets(6, 4).is_empty());
        assert!(Datanets::api_datanets(u32::MAX, u32::MAX).is_empty());
        assert!(Datanets::api_datanets(0, 0).is_empty());

        let id = 0;
        let cs: Vec<_> = (0..6u8).map(|i| contribute(ALICE, id, &[i; 3])).collect();
        let page = |s, l| {
            Datanets::api_contributions(id, s, l)
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(page(0, 10), cs[..4].to_vec());
        assert_eq!(page(4, 10), cs[4..].to_vec());
        assert!(page(u32::MAX, u32::MAX).is_empty());
        assert!(Datanets::api_contributions(99, 0, 4).is_empty());

        for &c in &cs[..5] {
            assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), c));
        }
        assert_ok!(Datanets::publish_version(RuntimeOrigin::signed(OWNER), id));
        let vpage = |s, l| {
            Datanets::api_version_contributions(id, 1, s, l)
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(vpage(0, 100), cs[..4].to_vec());
        assert_eq!(vpage(4, 100), vec![cs[4]]);
        assert!(vpage(5, 100).is_empty());
        assert!(Datanets::api_version_contributions(id, 2, 0, 4).is_empty());
        // Accepted after the version: not in it.
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), cs[5]));
        assert_eq!(vpage(0, 100).len(), 4);
        assert_eq!(vpage(4, 100), vec![cs[4]]);

        assert_ok!(Datanets::publish_version(RuntimeOrigin::signed(OWNER), id));
        let versions = Datanets::api_versions(id, 0, 10);
        assert_eq!(
            versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(Datanets::api_versions(id, 2, 10).len(), 1);
        assert!(Datanets::api_versions(id, 3, 10).is_empty());
        assert!(Datanets::api_versions(77, 1, 10).is_empty());
        assert_eq!(Datanets::api_version(id, 2).unwrap().contribution_count, 6);
        assert!(Datanets::api_version(id, 3).is_none());
    });
}

#[test]
fn api_returns_named_readable_fields() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ForfeitOnReject);
        assert_ok!(Datanets::add_curator(
            RuntimeOrigin::signed(OWNER),
            id,
            CURATOR
        ));
        let info = Datanets::api_datanet(id).unwrap();
        assert_eq!(info.name, "medical notes");
        assert_eq!(info.description, "de-identified clinical notes");
        assert_eq!(info.license, "CC-BY-4.0");
        assert_eq!(info.tags, vec!["health".to_string(), "en".to_string()]);
        assert_eq!(info.curators, vec![CURATOR]);
        assert_eq!(info.owner, OWNER);
        assert_eq!(info.deposit_policy, DepositPolicy::ForfeitOnReject);
        assert!(Datanets::api_datanet(3).is_none());

        let c = contribute(BOB, id, b"hello");
        let by_hash = Datanets::api_contribution_by_hash(id, blake(b"hello")).unwrap();
        assert_eq!(by_hash.id, c);
        assert_eq!(by_hash.contributor, BOB);
        assert_eq!(by_hash.size, 5);
        assert_eq!(by_hash.status, ContributionStatus::Pending);
        assert!(Datanets::api_contribution_by_hash(id, blake(b"other")).is_none());
        assert!(Datanets::api_contribution_by_hash(id + 1, blake(b"hello")).is_none());
        assert!(Datanets::api_contribution(c + 1).is_none());
        assert!(Datanets::api_can_contribute(id, ALICE));
        assert!(!Datanets::api_can_contribute(9, ALICE));
    });
}

#[test]
fn datanet_inspect_works() {
    build_and_execute(|| {
        type I = Datanets;
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let a = contribute(ALICE, id, b"a");
        let b = contribute(BOB, id, b"b");
        let late = contribute(BOB, id, b"late");
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), a));
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), b));
        assert!(!<I as DatanetInspect<u64, u64>>::is_published(id, 1));
        assert_ok!(Datanets::publish_version(RuntimeOrigin::signed(OWNER), id));
        assert_ok!(Datanets::accept(RuntimeOrigin::signed(OWNER), late));

        assert!(<I as DatanetInspect<u64, u64>>::datanet_exists(id));
        assert!(!<I as DatanetInspect<u64, u64>>::datanet_exists(id + 1));
        assert_eq!(
            <I as DatanetInspect<u64, u64>>::datanet_owner(id),
            Some(OWNER)
        );
        assert!(<I as DatanetInspect<u64, u64>>::is_published(id, 1));
        assert!(!<I as DatanetInspect<u64, u64>>::is_published(id, 2));
        assert!(!<I as DatanetInspect<u64, u64>>::is_published(id, 0));
        assert_eq!(
            <I as DatanetInspect<u64, u64>>::version(id, 1)
                .unwrap()
                .contribution_count,
            2
        );
        assert_eq!(<I as DatanetInspect<u64, u64>>::contributor(b), Some(BOB));
        assert_eq!(<I as DatanetInspect<u64, u64>>::contributor(99), None);
        assert_eq!(
            <I as DatanetInspect<u64, u64>>::content_hash(a),
            Some(blake(b"a"))
        );
        assert!(<I as DatanetInspect<u64, u64>>::in_version(id, 1, a));
        assert!(<I as DatanetInspect<u64, u64>>::in_version(id, 1, b));
        assert!(!<I as DatanetInspect<u64, u64>>::in_version(id, 1, late));
        assert!(!<I as DatanetInspect<u64, u64>>::in_version(id, 2, a));
        assert!(!<I as DatanetInspect<u64, u64>>::in_version(id + 1, 1, a));
        assert_eq!(
            <I as DatanetInspect<u64, u64>>::version_contributions(id, 1, 0, 10),
            vec![a, b]
        );
        assert_eq!(
            <I as DatanetInspect<u64, u64>>::version_contributions(id, 1, 1, 10),
            vec![b]
        );
        assert!(<I as DatanetInspect<u64, u64>>::version_contributions(id, 2, 0, 10).is_empty());
    });
}

#[test]
fn unsigned_origins_are_rejected_everywhere() {
    build_and_execute(|| {
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let c = contribute(ALICE, id, b"x");
        let o = || RuntimeOrigin::none();
        assert_noop!(
            Datanets::update_metadata(o(), id, None, None, None, None),
            BadOrigin
        );
        assert_noop!(
            Datanets::set_policies(o(), id, Admission::Open, CurationPolicy::Owner),
            BadOrigin
        );
        assert_noop!(Datanets::add_curator(o(), id, 1), BadOrigin);
        assert_noop!(Datanets::remove_curator(o(), id, 1), BadOrigin);
        assert_noop!(Datanets::allow_contributor(o(), id, 1), BadOrigin);
        assert_noop!(Datanets::disallow_contributor(o(), id, 1), BadOrigin);
        assert_noop!(Datanets::transfer_ownership(o(), id, 1), BadOrigin);
        assert_noop!(Datanets::close_datanet(o(), id), BadOrigin);
        assert_noop!(Datanets::accept(o(), c), BadOrigin);
        assert_noop!(Datanets::reject(o(), c, text("")), BadOrigin);
        assert_noop!(Datanets::withdraw(o(), c), BadOrigin);
        assert_noop!(Datanets::publish_version(o(), id), BadOrigin);
    });
}

#[test]
fn hold_failure_maps_to_named_error() {
    build_and_execute(|| {
        // `can_hold` is false for an account that would drop below ED: named error, no
        // `TokenError` leaks out.
        let id = open_datanet(DepositPolicy::ReleaseAlways);
        let result = Datanets::contribute(RuntimeOrigin::signed(POOR), id, vec![0u8; 60]);
        assert_eq!(result, Err(Error::<Test>::InsufficientBalance.into()));
        assert_ne!(
            result,
            Err(DispatchError::Token(TokenError::FundsUnavailable))
        );
    });
}

#[test]
fn contribute_weight_grows_with_payload_and_every_call_has_weight() {
    use frame_support::dispatch::GetDispatchInfo;
    let w = |len: usize| {
        crate::Call::<Test>::contribute {
            datanet: 0,
            payload: vec![0u8; len],
        }
        .get_dispatch_info()
        .call_weight
    };
    assert!(w(1).ref_time() > 0);
    assert!(w(1_000_000).ref_time() > w(1).ref_time());
    assert_eq!(
        w(MAX_PAYLOAD as usize),
        <() as crate::WeightInfo>::contribute(MAX_PAYLOAD)
    );
    let calls: Vec<crate::Call<Test>> = vec![
        crate::Call::create_datanet {
            name: text("n"),
            description: text(""),
            license: text(""),
            tags: tags(&[]),
            admission: Admission::Open,
            curation: CurationPolicy::Owner,
            deposit_per_byte: 0,
            deposit_policy: DepositPolicy::ReleaseAlways,
        },
        crate::Call::update_metadata {
            datanet: 0,
            name: None,
            description: None,
            license: None,
            tags: None,
        },
        crate::Call::set_policies {
            datanet: 0,
            admission: Admission::Open,
            curation: CurationPolicy::Owner,
        },
        crate::Call::add_curator {
            datanet: 0,
            curator: 1,
        },
        crate::Call::remove_curator {
            datanet: 0,
            curator: 1,
        },
        crate::Call::allow_contributor { datanet: 0, who: 1 },
        crate::Call::disallow_contributor { datanet: 0, who: 1 },
        crate::Call::transfer_ownership {
            datanet: 0,
            new_owner: 1,
        },
        crate::Call::close_datanet { datanet: 0 },
        crate::Call::accept { contribution: 0 },
        crate::Call::reject {
            contribution: 0,
            reason: text(""),
        },
        crate::Call::withdraw { contribution: 0 },
        crate::Call::publish_version { datanet: 0 },
    ];
    for call in calls {
        assert!(
            call.get_dispatch_info().call_weight.ref_time() > 0,
            "{call:?}"
        );
    }
}

#[test]
fn unit_datanet_inspect_knows_nothing() {
    assert!(!<() as DatanetInspect<u64, u64>>::datanet_exists(0));
    assert!(<() as DatanetInspect<u64, u64>>::datanet_owner(0).is_none());
    assert!(!<() as DatanetInspect<u64, u64>>::is_published(0, 1));
    assert!(<() as DatanetInspect<u64, u64>>::contributor(0).is_none());
    assert!(<() as DatanetInspect<u64, u64>>::content_hash(0).is_none());
    assert!(!<() as DatanetInspect<u64, u64>>::in_version(0, 1, 0));
    assert!(<() as DatanetInspect<u64, u64>>::version_contributions(0, 1, 0, 10).is_empty());
}
