//! Unit tests on the mock runtime: every call, every error (with `assert_noop!`: nothing
//! changes, no funds move), every event, the deposit accounting, lazy price changes and the
//! `ModelInspect` view. `build_and_execute` checks `do_try_state` after each test.

use crate::{mock::*, *};
// The pallet (not the `Models` storage map, which is `crate::Models`).
use crate::mock::Models;
use frame_support::{
    assert_noop, assert_ok,
    dispatch::GetDispatchInfo,
    traits::{
        fungible::{Inspect as _, InspectHold as _},
        Get,
    },
};
use sp_runtime::{traits::BadOrigin, Perbill};

type Ev = crate::Event<Test>;

fn text<S: Get<u32>>(s: &str) -> BoundedVec<u8, S> {
    s.as_bytes().to_vec().try_into().expect("fits the bound")
}

fn bytes<S: Get<u32>>(b: &[u8]) -> BoundedVec<u8, S> {
    b.to_vec().try_into().expect("fits the bound")
}

fn h(i: u8) -> H256 {
    H256::repeat_byte(i)
}

fn split(owner: u32, contributors: u32, attestors: u32, treasury: u32) -> FeeSplit {
    FeeSplit {
        owner: Perbill::from_percent(owner),
        contributors: Perbill::from_percent(contributors),
        attestors: Perbill::from_percent(attestors),
        treasury: Perbill::from_percent(treasury),
    }
}

/// 60 % owner, 30 % contributors, 8 % attestors, 2 % treasury: within the mock's bounds.
fn good_split() -> FeeSplit {
    split(60, 30, 8, 2)
}

fn events() -> Vec<Ev> {
    System::events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Models(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn last_event() -> Ev {
    events().pop().expect("an event")
}

fn held(who: u64) -> u64 {
    Balances::balance_on_hold(&HoldReason::ModelDeposit.into(), &who)
}

fn free(who: u64) -> u64 {
    Balances::balance(&who)
}

fn model(id: ModelId) -> crate::Model<Test> {
    crate::Models::<Test>::get(id).expect("model exists")
}

/// Governance registers a base model with weights hash `h(artifact)`.
fn base(artifact: u8) -> BaseModelId {
    let id = NextBaseModelId::<Test>::get();
    assert_ok!(Models::register_base_model(
        RuntimeOrigin::root(),
        text("SmolLM2-135M"),
        text("llama"),
        135_000_000,
        h(artifact),
        h(200),
        text("Apache-2.0"),
        ModelFormat::Gguf,
    ));
    id
}

/// The call `register_model` with every parameter given.
fn register_call(
    who: u64,
    kind: ModelKind,
    base: Option<BaseModelId>,
    refs: Vec<(DatanetId, VersionNumber)>,
    artifact: u8,
    price: u64,
    fee_split: FeeSplit,
    previous: Option<ModelId>,
) -> DispatchResult {
    Models::register_model(
        RuntimeOrigin::signed(who),
        text("medical-qa-lora"),
        kind,
        base,
        refs,
        h(10),
        h(artifact),
        h(11),
        price,
        fee_split,
        previous,
    )
}

/// `who` registers an adapter on base 0 trained on datanet 1 version 1, weights `h(artifact)`.
fn adapter(who: u64, artifact: u8) -> ModelId {
    let id = NextModelId::<Test>::get();
    assert_ok!(register_call(
        who,
        ModelKind::LoraAdapter,
        Some(0),
        vec![(1, 1)],
        artifact,
        1_000,
        good_split(),
        None
    ));
    id
}

/// A base model 0 and datanet 1 with versions 1 and 2, datanet 2 with version 1, datanet 3
/// without versions.
fn setup() {
    base(100);
    publish(1, 1);
    publish(1, 2);
    publish(2, 1);
    publish(3, 0);
}

// ---------------------------------------------------------------------------------------------
// register_base_model
// ---------------------------------------------------------------------------------------------

#[test]
fn register_base_model_works() {
    build_and_execute(|| {
        assert_eq!(base(100), 0);
        let b = BaseModels::<Test>::get(0).unwrap();
        assert_eq!(b.name.to_vec(), b"SmolLM2-135M".to_vec());
        assert_eq!(b.architecture.to_vec(), b"llama".to_vec());
        assert_eq!(b.parameter_count, 135_000_000);
        assert_eq!((b.artifact_hash, b.tokenizer_hash), (h(100), h(200)));
        assert_eq!(b.license.to_vec(), b"Apache-2.0".to_vec());
        assert_eq!(b.format, ModelFormat::Gguf);
        assert_eq!(b.registered_at, 1);
        assert_eq!(BaseModelByArtifact::<Test>::get(h(100)), Some(0));
        assert_eq!(NextBaseModelId::<Test>::get(), 1);
        assert_eq!(
            last_event(),
            Ev::BaseModelRegistered {
                base: 0,
                artifact_hash: h(100)
            }
        );
        // Ids are sequential.
        assert_eq!(base(101), 1);
    });
}

#[test]
fn register_base_model_errors() {
    build_and_execute(|| {
        base(100);
        let call =
            |origin: RuntimeOrigin, name: &[u8], arch: &[u8], params: u64, art: u8, lic: &[u8]| {
                Models::register_base_model(
                    origin,
                    bytes(name),
                    bytes(arch),
                    params,
                    h(art),
                    h(200),
                    bytes(lic),
                    ModelFormat::Safetensors,
                )
            };
        assert_noop!(
            call(RuntimeOrigin::signed(ALICE), b"n", b"a", 1, 1, b""),
            BadOrigin
        );
        // (name, architecture, parameters, weights hash, license) → error
        let cases: [(&[u8], &[u8], u64, u8, &[u8], Error<Test>); 7] = [
            (b"", b"a", 1, 1, b"", Error::<Test>::EmptyName),
            (b"\xff", b"a", 1, 1, b"", Error::<Test>::InvalidUtf8),
            (b"n", b"", 1, 1, b"", Error::<Test>::EmptyArchitecture),
            (b"n", b"\xc3", 1, 1, b"", Error::<Test>::InvalidUtf8),
            (b"n", b"a", 1, 1, b"\xff", Error::<Test>::InvalidUtf8),
            (b"n", b"a", 0, 1, b"", Error::<Test>::ZeroParameters),
            (b"n", b"a", 1, 100, b"", Error::<Test>::DuplicateArtifact),
        ];
        for (name, arch, params, art, lic, error) in cases {
            assert_noop!(
                call(RuntimeOrigin::root(), name, arch, params, art, lic),
                error
            );
        }
        NextBaseModelId::<Test>::put(BaseModelId::MAX);
        assert_noop!(
            call(RuntimeOrigin::root(), b"n", b"a", 1, 1, b""),
            Error::<Test>::TooManyBaseModels
        );
        NextBaseModelId::<Test>::put(1);
    });
}

// ---------------------------------------------------------------------------------------------
// register_model
// ---------------------------------------------------------------------------------------------

#[test]
fn register_model_works_and_holds_the_deposit() {
    build_and_execute(|| {
        setup();
        let before = free(OWNER);
        let id = adapter(OWNER, 1);
        assert_eq!(id, 0);
        let m = model(id);
        assert_eq!(
            (m.owner, m.depositor, m.deposit),
            (OWNER, OWNER, MODEL_DEPOSIT)
        );
        assert_eq!(m.name.to_vec(), b"medical-qa-lora".to_vec());
        assert_eq!((m.kind, m.base), (ModelKind::LoraAdapter, Some(0)));
        assert_eq!(m.datanet_versions.to_vec(), vec![(1, 1)]);
        assert_eq!(
            (
                m.training_config_hash,
                m.artifact_hash,
                m.attribution_index_hash
            ),
            (h(10), h(1), h(11))
        );
        assert_eq!((m.price_per_1k_tokens, m.pending_price), (1_000, None));
        assert_eq!(m.fee_split, good_split());
        assert_eq!(m.status, ModelStatus::Active);
        assert_eq!(
            (m.previous, m.successor, m.version, m.registered_at),
            (None, None, 1, 1)
        );
        assert_eq!(ModelByArtifact::<Test>::get(OWNER, h(1)), Some(0));
        assert_eq!(NextModelId::<Test>::get(), 1);
        assert_eq!(held(OWNER), MODEL_DEPOSIT);
        assert_eq!(free(OWNER), before - MODEL_DEPOSIT);
        assert_eq!(
            last_event(),
            Ev::ModelRegistered {
                model: 0,
                owner: OWNER,
                kind: ModelKind::LoraAdapter,
                base: Some(0),
                previous: None,
                version: 1,
                deposit: MODEL_DEPOSIT,
            }
        );
        // A specialised model needs no base and may cite several datanet versions.
        assert_ok!(register_call(
            ALICE,
            ModelKind::Specialised,
            None,
            vec![(1, 1), (1, 2), (2, 1)],
            1, // same weights, another owner: allowed
            0,
            split(70, 20, 5, 5), // exactly at the bounds
            None
        ));
        assert_eq!(
            model(1).datanet_versions.to_vec(),
            vec![(1, 1), (1, 2), (2, 1)]
        );
        assert_eq!(model(1).base, None);
        // ... or name the base it was fine-tuned from.
        assert_ok!(register_call(
            ALICE,
            ModelKind::Specialised,
            Some(0),
            vec![(2, 1)],
            2,
            0,
            good_split(),
            None
        ));
        assert_eq!(held(ALICE), 2 * MODEL_DEPOSIT);
    });
}

#[test]
fn register_model_reference_errors() {
    build_and_execute(|| {
        setup();
        let call = |kind, base, refs: Vec<(DatanetId, VersionNumber)>| {
            register_call(OWNER, kind, base, refs, 1, 5, good_split(), None)
        };
        let lora = ModelKind::LoraAdapter;
        assert_noop!(
            call(lora, None, vec![(1, 1)]),
            Error::<Test>::MissingBaseModel
        );
        assert_noop!(
            call(lora, Some(7), vec![(1, 1)]),
            Error::<Test>::BaseModelNotFound
        );
        assert_noop!(
            call(ModelKind::Specialised, Some(7), vec![(1, 1)]),
            Error::<Test>::BaseModelNotFound
        );
        assert_noop!(call(lora, Some(0), vec![]), Error::<Test>::NoDatanetRefs);
        let too_many: Vec<_> = (0..=MAX_REFS).map(|v| (1, v)).collect();
        assert_noop!(
            call(lora, Some(0), too_many),
            Error::<Test>::TooManyDatanetRefs
        );
        assert_noop!(
            call(lora, Some(0), vec![(1, 1), (2, 1), (1, 1)]),
            Error::<Test>::DuplicateDatanetRef
        );
        assert_noop!(
            call(lora, Some(0), vec![(1, 1), (9, 1)]),
            Error::<Test>::DatanetNotFound
        );
        // Datanet 1 has versions 1 and 2 only; datanet 3 none.
        assert_noop!(
            call(lora, Some(0), vec![(1, 3)]),
            Error::<Test>::DatanetVersionNotPublished
        );
        assert_noop!(
            call(lora, Some(0), vec![(3, 1)]),
            Error::<Test>::DatanetVersionNotPublished
        );
        assert_noop!(
            call(lora, Some(0), vec![(1, 0)]),
            Error::<Test>::DatanetVersionNotPublished
        );
        // Exactly MaxDatanetRefs distinct published versions is fine.
        for d in 10..10 + MAX_REFS {
            publish(d, 1);
        }
        assert_ok!(call(
            lora,
            Some(0),
            (10..10 + MAX_REFS).map(|d| (d, 1)).collect()
        ));
    });
}

#[test]
fn register_model_split_and_other_errors() {
    build_and_execute(|| {
        setup();
        let call = |who: u64, artifact: u8, fee_split: FeeSplit, name: &[u8]| {
            Models::register_model(
                RuntimeOrigin::signed(who),
                bytes(name),
                ModelKind::LoraAdapter,
                Some(0),
                vec![(1, 1)],
                h(10),
                h(artifact),
                h(11),
                5,
                fee_split,
                None,
            )
        };
        assert_noop!(
            Models::register_model(
                RuntimeOrigin::none(),
                text("x"),
                ModelKind::Specialised,
                None,
                vec![(1, 1)],
                h(1),
                h(1),
                h(1),
                1,
                good_split(),
                None
            ),
            BadOrigin
        );
        assert_noop!(call(OWNER, 1, good_split(), b""), Error::<Test>::EmptyName);
        assert_noop!(
            call(OWNER, 1, good_split(), b"\xff\xfe"),
            Error::<Test>::InvalidUtf8
        );
        // Not 100 %: one part per billion short, or over.
        let mut short = good_split();
        short.treasury = Perbill::from_parts(short.treasury.deconstruct() - 1);
        assert_noop!(
            call(OWNER, 1, short, b"m"),
            Error::<Test>::IncompleteFeeSplit
        );
        assert_noop!(
            call(OWNER, 1, split(60, 30, 8, 3), b"m"),
            Error::<Test>::IncompleteFeeSplit
        );
        // Complete but out of bounds, one bound at a time.
        assert_noop!(
            call(OWNER, 1, split(71, 20, 5, 4), b"m"),
            Error::<Test>::FeeSplitOutOfBounds
        );
        assert_noop!(
            call(OWNER, 1, split(60, 19, 20, 1), b"m"),
            Error::<Test>::FeeSplitOutOfBounds
        );
        assert_noop!(
            call(OWNER, 1, split(60, 30, 4, 6), b"m"),
            Error::<Test>::FeeSplitOutOfBounds
        );
        assert_noop!(
            call(OWNER, 1, split(60, 30, 10, 0), b"m"),
            Error::<Test>::FeeSplitOutOfBounds
        );
        // Same weights under the same owner.
        assert_ok!(call(OWNER, 1, good_split(), b"m"));
        assert_noop!(
            call(OWNER, 1, good_split(), b"m2"),
            Error::<Test>::DuplicateArtifact
        );
        // No deposit, no model.
        assert_noop!(
            call(POOR, 2, good_split(), b"m"),
            Error::<Test>::InsufficientBalance
        );
        NextModelId::<Test>::put(ModelId::MAX);
        assert_noop!(
            call(ALICE, 2, good_split(), b"m"),
            Error::<Test>::TooManyModels
        );
        NextModelId::<Test>::put(1);
    });
}

#[test]
fn new_versions_link_both_ways() {
    build_and_execute(|| {
        setup();
        let v1 = adapter(OWNER, 1);
        let v2 = NextModelId::<Test>::get();
        assert_ok!(register_call(
            OWNER,
            ModelKind::LoraAdapter,
            Some(0),
            vec![(1, 2)], // retrained on the newer datanet version
            2,
            2_000,
            split(50, 40, 8, 2),
            Some(v1)
        ));
        assert_eq!(
            last_event(),
            Ev::ModelRegistered {
                model: v2,
                owner: OWNER,
                kind: ModelKind::LoraAdapter,
                base: Some(0),
                previous: Some(v1),
                version: 2,
                deposit: MODEL_DEPOSIT,
            }
        );
        assert_eq!((model(v2).previous, model(v2).version), (Some(v1), 2));
        assert_eq!(model(v1).successor, Some(v2));
        // The previous version keeps its status and terms.
        assert_eq!(model(v1).status, ModelStatus::Active);
        assert_eq!(model(v1).fee_split, good_split());
        // And a third version from the second.
        assert_ok!(register_call(
            OWNER,
            ModelKind::LoraAdapter,
            Some(0),
            vec![(1, 2)],
            3,
            1,
            good_split(),
            Some(v2)
        ));
        assert_eq!(model(2).version, 3);
    });
}

#[test]
fn new_version_errors() {
    build_and_execute(|| {
        setup();
        let v1 = adapter(OWNER, 1);
        let call = |who, kind, previous| {
            register_call(
                who,
                kind,
                Some(0),
                vec![(1, 1)],
                5,
                1,
                good_split(),
                Some(previous),
            )
        };
        assert_noop!(
            call(OWNER, ModelKind::LoraAdapter, 9),
            Error::<Test>::ModelNotFound
        );
        assert_noop!(
            call(ALICE, ModelKind::LoraAdapter, v1),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            call(OWNER, ModelKind::Specialised, v1),
            Error::<Test>::KindMismatch
        );
        assert_ok!(call(OWNER, ModelKind::LoraAdapter, v1));
        // Lineage is linear.
        assert_noop!(
            register_call(
                OWNER,
                ModelKind::LoraAdapter,
                Some(0),
                vec![(1, 1)],
                6,
                1,
                good_split(),
                Some(v1)
            ),
            Error::<Test>::AlreadySuperseded
        );
        crate::Models::<Test>::mutate(1, |m| m.as_mut().unwrap().version = u32::MAX);
        assert_noop!(
            register_call(
                OWNER,
                ModelKind::LoraAdapter,
                Some(0),
                vec![(1, 1)],
                6,
                1,
                good_split(),
                Some(1)
            ),
            Error::<Test>::TooManyVersions
        );
        crate::Models::<Test>::mutate(1, |m| m.as_mut().unwrap().version = 2);
    });
}

// ---------------------------------------------------------------------------------------------
// deprecate, retire
// ---------------------------------------------------------------------------------------------

#[test]
fn deprecate_then_retire() {
    build_and_execute(|| {
        setup();
        let id = adapter(OWNER, 1);
        assert!(<Models as ModelInspect<u64, u64>>::is_active(id));
        assert_ok!(Models::deprecate(RuntimeOrigin::signed(OWNER), id));
        assert_eq!(model(id).status, ModelStatus::Deprecated);
        assert_eq!(last_event(), Ev::ModelDeprecated { model: id });
        // Deprecated models are still served.
        assert!(<Models as ModelInspect<u64, u64>>::is_active(id));
        assert_ok!(Models::retire(RuntimeOrigin::signed(OWNER), id));
        assert_eq!(model(id).status, ModelStatus::Retired);
        assert_eq!(last_event(), Ev::ModelRetired { model: id });
        assert!(!<Models as ModelInspect<u64, u64>>::is_active(id));
        // History stays, and so does the deposit.
        assert!(<Models as ModelInspect<u64, u64>>::model(id).is_some());
        assert_eq!(held(OWNER), MODEL_DEPOSIT);
        // An active model can be retired directly.
        let other = adapter(OWNER, 2);
        assert_ok!(Models::retire(RuntimeOrigin::signed(OWNER), other));
    });
}

#[test]
fn deprecate_and_retire_errors() {
    build_and_execute(|| {
        setup();
        let id = adapter(OWNER, 1);
        assert_noop!(
            Models::deprecate(RuntimeOrigin::signed(OWNER), 9),
            Error::<Test>::ModelNotFound
        );
        assert_noop!(
            Models::retire(RuntimeOrigin::signed(OWNER), 9),
            Error::<Test>::ModelNotFound
        );
        assert_noop!(
            Models::deprecate(RuntimeOrigin::signed(ALICE), id),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Models::retire(RuntimeOrigin::signed(ALICE), id),
            Error::<Test>::NotOwner
        );
        assert_noop!(Models::deprecate(RuntimeOrigin::none(), id), BadOrigin);
        assert_noop!(Models::retire(RuntimeOrigin::root(), id), BadOrigin);
        assert_ok!(Models::deprecate(RuntimeOrigin::signed(OWNER), id));
        assert_noop!(
            Models::deprecate(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::AlreadyDeprecated
        );
        assert_ok!(Models::retire(RuntimeOrigin::signed(OWNER), id));
        assert_noop!(
            Models::retire(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::ModelRetired
        );
        assert_noop!(
            Models::deprecate(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::ModelRetired
        );
    });
}

// ---------------------------------------------------------------------------------------------
// transfer_ownership
// ---------------------------------------------------------------------------------------------

#[test]
fn transfer_ownership_moves_the_index_not_the_deposit() {
    build_and_execute(|| {
        setup();
        let id = adapter(OWNER, 1);
        assert_ok!(Models::transfer_ownership(
            RuntimeOrigin::signed(OWNER),
            id,
            ALICE
        ));
        assert_eq!(
            last_event(),
            Ev::OwnershipTransferred {
                model: id,
                from: OWNER,
                to: ALICE
            }
        );
        assert_eq!(model(id).owner, ALICE);
        assert_eq!(model(id).depositor, OWNER);
        assert_eq!(ModelByArtifact::<Test>::get(OWNER, h(1)), None);
        assert_eq!(ModelByArtifact::<Test>::get(ALICE, h(1)), Some(id));
        assert_eq!((held(OWNER), held(ALICE)), (MODEL_DEPOSIT, 0));
        // The new owner controls it; the old one no longer does.
        assert_noop!(
            Models::deprecate(RuntimeOrigin::signed(OWNER), id),
            Error::<Test>::NotOwner
        );
        assert_ok!(Models::deprecate(RuntimeOrigin::signed(ALICE), id));
        // The old owner may register the same weights again.
        adapter(OWNER, 1);
    });
}

#[test]
fn transfer_ownership_errors() {
    build_and_execute(|| {
        setup();
        let id = adapter(OWNER, 1);
        adapter(ALICE, 1);
        let t = |who, model, to| Models::transfer_ownership(RuntimeOrigin::signed(who), model, to);
        assert_noop!(t(OWNER, 9, BOB), Error::<Test>::ModelNotFound);
        assert_noop!(t(BOB, id, BOB), Error::<Test>::NotOwner);
        assert_noop!(t(OWNER, id, OWNER), Error::<Test>::AlreadyOwner);
        // Alice already owns a model with these weights.
        assert_noop!(t(OWNER, id, ALICE), Error::<Test>::DuplicateArtifact);
        assert_noop!(
            Models::transfer_ownership(RuntimeOrigin::none(), id, BOB),
            BadOrigin
        );
    });
}

// ---------------------------------------------------------------------------------------------
// set_price
// ---------------------------------------------------------------------------------------------

fn price_now(id: ModelId) -> u64 {
    <Models as ModelInspect<u64, u64>>::price_per_1k_tokens(id).expect("model exists")
}

#[test]
fn price_changes_take_effect_after_the_delay() {
    build_and_execute(|| {
        setup();
        let id = adapter(OWNER, 1);
        assert_ok!(Models::set_price(RuntimeOrigin::signed(OWNER), id, 3_000));
        let effective_at = 1 + PRICE_DELAY;
        assert_eq!(
            last_event(),
            Ev::PriceChangeScheduled {
                model: id,
                current: 1_000,
                price: 3_000,
                effective_at
            }
        );
        // Visible as pending, not yet in force.
        assert_eq!(
            model(id).pending_price,
            Some(PendingPrice {
                price: 3_000,
                effective_at
            })
        );
        let info = Models::api_model(id).unwrap();
        assert_eq!(info.price_per_1k_tokens, 1_000);
        assert_eq!(
            info.pending_price,
            Some(PendingPrice {
                price: 3_000,
                effective_at
            })
        );
        System::set_block_number(effective_at - 1);
        assert_eq!(price_now(id), 1_000);
        // In force from `effective_at`, for every reader, without any write.
        System::set_block_number(effective_at);
        assert_eq!(price_now(id), 3_000);
        assert_eq!(
            <Models as ModelInspect<u64, u64>>::model(id)
                .unwrap()
                .price_per_1k_tokens,
            3_000
        );
        let info = Models::api_model(id).unwrap();
        assert_eq!(
            (info.price_per_1k_tokens, info.pending_price),
            (3_000, None)
        );
        // The next write folds it into the stored price.
        assert_ok!(Models::deprecate(RuntimeOrigin::signed(OWNER), id));
        assert_eq!(
            (model(id).price_per_1k_tokens, model(id).pending_price),
            (3_000, None)
        );
    });
}

#[test]
fn a_new_announcement_replaces_a_pending_one() {
    build_and_execute(|| {
        setup();
        let id = adapter(OWNER, 1);
        assert_ok!(Models::set_price(RuntimeOrigin::signed(OWNER), id, 3_000));
        System::set_block_number(5);
        assert_ok!(Models::set_price(RuntimeOrigin::signed(OWNER), id, 500));
        assert_eq!(
            model(id).pending_price,
            Some(PendingPrice {
                price: 500,
                effective_at: 5 + PRICE_DELAY
            })
        );
        System::set_block_number(1 + PRICE_DELAY);
        // The replaced change never takes effect.
        assert_eq!(price_now(id), 1_000);
        // Announcing the price in force while a change is pending cancels it (after the delay).
        assert_ok!(Models::set_price(RuntimeOrigin::signed(OWNER), id, 1_000));
        System::set_block_number(100);
        assert_eq!(price_now(id), 1_000);
        // Once the first change is in force, the next announcement starts from it.
        assert_ok!(Models::set_price(RuntimeOrigin::signed(OWNER), id, 7));
        assert_eq!(
            last_event(),
            Ev::PriceChangeScheduled {
                model: id,
                current: 1_000,
                price: 7,
                effective_at: 100 + PRICE_DELAY
            }
        );
        System::set_block_number(100 + PRICE_DELAY);
        assert_ok!(Models::set_price(RuntimeOrigin::signed(OWNER), id, 8));
        assert_eq!(model(id).price_per_1k_tokens, 7);
        assert_eq!(
            last_event(),
            Ev::PriceChangeScheduled {
                model: id,
                current: 7,
                price: 8,
                effective_at: 100 + 2 * PRICE_DELAY
            }
        );
    });
}

#[test]
fn set_price_errors() {
    build_and_execute(|| {
        setup();
        let id = adapter(OWNER, 1);
        let p = |who, model, price| Models::set_price(RuntimeOrigin::signed(who), model, price);
        assert_noop!(p(OWNER, 9, 1), Error::<Test>::ModelNotFound);
        assert_noop!(p(ALICE, id, 1), Error::<Test>::NotOwner);
        assert_noop!(p(OWNER, id, 1_000), Error::<Test>::PriceUnchanged);
        assert_noop!(Models::set_price(RuntimeOrigin::none(), id, 1), BadOrigin);
        assert_ok!(Models::retire(RuntimeOrigin::signed(OWNER), id));
        assert_noop!(p(OWNER, id, 1), Error::<Test>::ModelRetired);
    });
}

// ---------------------------------------------------------------------------------------------
// set_fee_split_bounds
// ---------------------------------------------------------------------------------------------

#[test]
fn fee_split_bounds_apply_to_new_registrations_only() {
    build_and_execute(|| {
        setup();
        assert_eq!(SplitBounds::<Test>::get(), DefaultBounds::get());
        let old = adapter(OWNER, 1); // 60 % owner
        let bounds = FeeSplitBounds {
            min_contributors: Perbill::from_percent(50),
            min_attestors: Perbill::from_percent(5),
            min_treasury: Perbill::zero(),
            max_owner: Perbill::from_percent(45),
        };
        assert_ok!(Models::set_fee_split_bounds(RuntimeOrigin::root(), bounds));
        assert_eq!(last_event(), Ev::FeeSplitBoundsSet { bounds });
        assert_eq!(Models::api_fee_split_bounds(), bounds);
        assert_noop!(
            register_call(
                OWNER,
                ModelKind::LoraAdapter,
                Some(0),
                vec![(1, 1)],
                2,
                1,
                good_split(),
                None
            ),
            Error::<Test>::FeeSplitOutOfBounds
        );
        assert_ok!(register_call(
            OWNER,
            ModelKind::LoraAdapter,
            Some(0),
            vec![(1, 1)],
            2,
            1,
            split(45, 50, 5, 0),
            None
        ));
        // The earlier model keeps its split.
        assert_eq!(model(old).fee_split, good_split());
    });
}

#[test]
fn set_fee_split_bounds_errors() {
    build_and_execute(|| {
        let bounds = DefaultBounds::get();
        assert_noop!(
            Models::set_fee_split_bounds(RuntimeOrigin::signed(OWNER), bounds),
            BadOrigin
        );
        let impossible = FeeSplitBounds {
            min_contributors: Perbill::from_percent(60),
            min_attestors: Perbill::from_percent(40),
            min_treasury: Perbill::from_parts(1),
            max_owner: Perbill::one(),
        };
        assert_noop!(
            Models::set_fee_split_bounds(RuntimeOrigin::root(), impossible),
            Error::<Test>::UnsatisfiableBounds
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Reading: ModelInspect and the runtime API
// ---------------------------------------------------------------------------------------------

#[test]
fn model_inspect_reports_the_registry() {
    build_and_execute(|| {
        setup();
        let id = adapter(OWNER, 1);
        type I = Models;
        let summary = <I as ModelInspect<u64, u64>>::model(id).unwrap();
        assert_eq!(
            summary,
            ModelSummary {
                owner: OWNER,
                kind: ModelKind::LoraAdapter,
                base: Some(0),
                status: ModelStatus::Active,
                price_per_1k_tokens: 1_000,
                fee_split: good_split(),
                datanet_versions: vec![(1, 1)],
                artifact_hash: h(1),
                attribution_index_hash: h(11),
                tokenizer_hash: Some(h(200)),
            }
        );
        assert_eq!(<I as ModelInspect<u64, u64>>::owner(id), Some(OWNER));
        assert_eq!(
            <I as ModelInspect<u64, u64>>::fee_split(id),
            Some(good_split())
        );
        assert_eq!(
            <I as ModelInspect<u64, u64>>::datanet_versions(id),
            vec![(1, 1)]
        );
        // Unknown models.
        assert_eq!(<I as ModelInspect<u64, u64>>::model(9), None);
        assert!(!<I as ModelInspect<u64, u64>>::is_active(9));
        assert_eq!(<I as ModelInspect<u64, u64>>::owner(9), None);
        assert_eq!(<I as ModelInspect<u64, u64>>::fee_split(9), None);
        assert_eq!(<I as ModelInspect<u64, u64>>::price_per_1k_tokens(9), None);
        assert!(<I as ModelInspect<u64, u64>>::datanet_versions(9).is_empty());
    });
}

#[test]
fn api_lists_are_paged_clamped_and_readable() {
    build_and_execute(|| {
        setup();
        base(101);
        let b = Models::api_base_model(0).unwrap();
        assert_eq!(
            (b.name.as_str(), b.architecture.as_str(), b.license.as_str()),
            ("SmolLM2-135M", "llama", "Apache-2.0")
        );
        assert_eq!(b.parameter_count, 135_000_000);
        assert_eq!(Models::api_base_model(5), None);
        assert_eq!(
            Models::api_base_models(0, 10)
                .iter()
                .map(|b| b.id)
                .collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(Models::api_base_models(1, 10).len(), 1);
        assert!(Models::api_base_models(2, 10).is_empty());

        for i in 0..5u8 {
            adapter(if i % 2 == 0 { OWNER } else { ALICE }, i + 1);
        }
        let ids = |v: Vec<ModelInfo<u64, u64, u64>>| v.iter().map(|m| m.id).collect::<Vec<_>>();
        // Pages clamp to MaxPageSize (3).
        assert_eq!(ids(Models::api_models(0, 100)), vec![0, 1, 2]);
        assert_eq!(ids(Models::api_models(3, 100)), vec![3, 4]);
        assert_eq!(ids(Models::api_models(1, 1)), vec![1]);
        assert!(Models::api_models(5, 10).is_empty());
        assert!(Models::api_models(u64::MAX, u32::MAX).is_empty());
        assert_eq!(
            ids(Models::api_models_by_owner(OWNER, 0, 10)),
            vec![0, 2, 4]
        );
        assert_eq!(ids(Models::api_models_by_owner(OWNER, 1, 1)), vec![2]);
        assert_eq!(ids(Models::api_models_by_owner(ALICE, 0, 10)), vec![1, 3]);
        assert!(Models::api_models_by_owner(BOB, 0, 10).is_empty());
        // Ownership moves models between the owner lists.
        assert_ok!(Models::transfer_ownership(
            RuntimeOrigin::signed(ALICE),
            3,
            BOB
        ));
        assert_eq!(ids(Models::api_models_by_owner(BOB, 0, 10)), vec![3]);

        let m = Models::api_model(0).unwrap();
        assert_eq!(m.name, "medical-qa-lora");
        assert_eq!(
            (m.owner, m.depositor, m.deposit),
            (OWNER, OWNER, MODEL_DEPOSIT)
        );
        assert_eq!(m.fee_split, good_split());
        assert_eq!(m.datanet_versions, vec![(1, 1)]);
        assert_eq!(
            (m.kind, m.base, m.version, m.status),
            (ModelKind::LoraAdapter, Some(0), 1, ModelStatus::Active)
        );
        assert_eq!(Models::api_model(99), None);
    });
}

// ---------------------------------------------------------------------------------------------
// Invariants, origins and weights
// ---------------------------------------------------------------------------------------------

#[test]
fn try_state_detects_inconsistencies() {
    new_test_ext().execute_with(|| {
        setup();
        let id = adapter(OWNER, 1);
        assert_ok!(Models::do_try_state());
        // An index entry that does not point back.
        ModelByArtifact::<Test>::insert(ALICE, h(1), id);
        assert!(Models::do_try_state().is_err());
        ModelByArtifact::<Test>::remove(ALICE, h(1));
        // A deposit that is not on hold.
        crate::Models::<Test>::mutate(id, |m| m.as_mut().unwrap().deposit = 1);
        assert!(Models::do_try_state().is_err());
        crate::Models::<Test>::mutate(id, |m| m.as_mut().unwrap().deposit = MODEL_DEPOSIT);
        // A broken lineage link.
        crate::Models::<Test>::mutate(id, |m| m.as_mut().unwrap().successor = Some(7));
        assert!(Models::do_try_state().is_err());
        crate::Models::<Test>::mutate(id, |m| m.as_mut().unwrap().successor = None);
        // An incomplete split.
        crate::Models::<Test>::mutate(id, |m| m.as_mut().unwrap().fee_split = split(1, 1, 1, 1));
        assert!(Models::do_try_state().is_err());
        crate::Models::<Test>::mutate(id, |m| m.as_mut().unwrap().fee_split = good_split());
        // A base-model index pointing nowhere.
        BaseModelByArtifact::<Test>::insert(h(55), 42);
        assert!(Models::do_try_state().is_err());
        BaseModelByArtifact::<Test>::remove(h(55));
        assert_ok!(Models::do_try_state());
    });
}

#[test]
fn every_call_has_weight_and_register_grows_with_references() {
    build_and_execute(|| {
        let reg = |n: u32| {
            crate::Call::<Test>::register_model {
                name: text("m"),
                kind: ModelKind::Specialised,
                base: None,
                datanet_versions: (0..n).map(|i| (i, 1)).collect(),
                training_config_hash: h(1),
                artifact_hash: h(1),
                attribution_index_hash: h(1),
                price_per_1k_tokens: 1,
                fee_split: good_split(),
                previous: None,
            }
            .get_dispatch_info()
            .call_weight
        };
        assert!(reg(2).ref_time() > reg(1).ref_time());
        // Over-long lists are weighed at the bound: they fail before reading more.
        assert_eq!(reg(MAX_REFS + 50), reg(MAX_REFS));
        let calls: Vec<crate::Call<Test>> = vec![
            crate::Call::register_base_model {
                name: text("b"),
                architecture: text("a"),
                parameter_count: 1,
                artifact_hash: h(1),
                tokenizer_hash: h(1),
                license: text(""),
                format: ModelFormat::Safetensors,
            },
            crate::Call::deprecate { model: 0 },
            crate::Call::retire { model: 0 },
            crate::Call::transfer_ownership {
                model: 0,
                new_owner: 2,
            },
            crate::Call::set_price {
                model: 0,
                price_per_1k_tokens: 1,
            },
            crate::Call::set_fee_split_bounds {
                bounds: DefaultBounds::get(),
            },
        ];
        for call in calls {
            assert!(
                call.get_dispatch_info().call_weight.ref_time() > 0,
                "{call:?}"
            );
        }
    });
}
