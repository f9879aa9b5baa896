//! Runtime tests on the native build: genesis presets, a signed transfer through `Executive`
//! with its fee, the metadata, a model registered against a datanet version published
//! through the real Datanets pallet, and stake-ranked validator sessions through real blocks.

use codec::{Decode, Encode};
use frame_support::{
    dispatch::GetDispatchInfo,
    traits::fungible::Inspect,
};
use openledger_primitives::staking::{Role, StakingInspect};
use openledger_runtime::{
    configs::SESSION_PERIOD, fees, genesis_config_presets, opaque::SessionKeys, AccountId,
    Address, Balance, Balances, Executive, Rewards, Runtime, RuntimeCall, RuntimeGenesisConfig,
    RuntimeOrigin, Session, SignedPayload, Staking, System, UncheckedExtrinsic, GENESIS_SUPPLY,
    MILLI_OPEN, OPEN, SLOT_DURATION,
};
use serde_json::Value;
use sp_core::{sr25519, Pair};
use sp_keyring::Sr25519Keyring;
use sp_runtime::{traits::Header as _, BuildStorage};

/// Apply a JSON patch the way the node's chain-spec builder does: objects merge key by key,
/// everything else is replaced.
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        },
        (base, patch) => *base = patch,
    }
}

/// The full genesis config of a preset: the runtime's defaults with the preset's patch.
fn preset_config(name: &str) -> RuntimeGenesisConfig {
    let patch = genesis_config_presets::get_preset(&name.into()).expect("preset exists");
    let patch: Value = serde_json::from_slice(&patch).expect("preset is JSON");
    let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
    merge(&mut config, patch);
    serde_json::from_value(config).expect("preset patch matches the genesis config")
}

fn externalities(preset: &str) -> sp_io::TestExternalities {
    let storage = preset_config(preset).build_storage().expect("genesis builds");
    sp_io::TestExternalities::new(storage)
}

#[test]
fn both_presets_are_listed_and_unknown_ones_are_not() {
    let names: Vec<String> = genesis_config_presets::preset_names()
        .into_iter()
        .map(|id| {
            let bytes: &[u8] = id.as_ref();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
        .collect();
    assert_eq!(names, ["development", "local_testnet"]);
    assert!(genesis_config_presets::get_preset(&"mainnet".into()).is_none());
}

#[test]
fn development_genesis_mints_one_billion_open_with_alice_as_sole_authority() {
    externalities("development").execute_with(|| {
        assert_eq!(Balances::total_issuance(), GENESIS_SUPPLY);
        assert_eq!(GENESIS_SUPPLY, 1_000_000_000 * 10u128.pow(18));
        let alice = Sr25519Keyring::Alice.to_account_id();
        let bob = Sr25519Keyring::Bob.to_account_id();
        assert_eq!(Balances::balance(&bob), genesis_config_presets::DEV_ENDOWMENT);
        assert!(Balances::balance(&alice) > 900_000_000 * OPEN);
        assert_eq!(pallet_aura::Authorities::<Runtime>::get().len(), 1);
        assert_eq!(pallet_grandpa::Pallet::<Runtime>::grandpa_authorities().len(), 1);
        assert_eq!(pallet_sudo::Key::<Runtime>::get(), Some(alice));
    });
}

#[test]
fn local_testnet_genesis_has_four_validators_and_the_same_supply() {
    externalities("local_testnet").execute_with(|| {
        assert_eq!(Balances::total_issuance(), GENESIS_SUPPLY);
        let aura = pallet_aura::Authorities::<Runtime>::get();
        // The session pallet orders validators by account id.
        let mut keys =
            [Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie, Sr25519Keyring::Dave];
        keys.sort_by_key(|k| k.to_account_id());
        let expected: Vec<sp_consensus_aura::sr25519::AuthorityId> =
            keys.iter().map(|k| k.public().into()).collect();
        assert_eq!(aura.into_inner(), expected);
        let validators = pallet_session::Validators::<Runtime>::get();
        assert_eq!(validators, keys.iter().map(|k| k.to_account_id()).collect::<Vec<_>>());
        for who in &validators {
            assert_eq!(
                Staking::stake(who),
                genesis_config_presets::GENESIS_VALIDATOR_STAKE
            );
        }
        // The rewards pot and the treasury exist, funded from the reserve.
        assert_eq!(Rewards::api_treasury().balance, fees::EXISTENTIAL_DEPOSIT);
        // So does the attribution escrow, and every genesis validator is an attestor.
        assert_eq!(
            Balances::free_balance(openledger_runtime::Attribution::escrow_account()),
            fees::EXISTENTIAL_DEPOSIT
        );
        let mut attestors = <Staking as StakingInspect<_, _>>::attestors();
        attestors.sort();
        assert_eq!(attestors, keys.iter().map(|k| k.to_account_id()).collect::<Vec<_>>());
        let grandpa = pallet_grandpa::Pallet::<Runtime>::grandpa_authorities();
        assert_eq!(grandpa.len(), 4);
        assert!(grandpa.iter().all(|(_, weight)| *weight == 1));
    });
}

#[test]
fn genesis_balances_sum_exactly_to_the_supply() {
    let accounts: Vec<AccountId> = (0u8..7).map(|i| AccountId::from([i; 32])).collect();
    for n in 1..=accounts.len() {
        let balances = genesis_config_presets::genesis_balances(&accounts[..n]);
        assert_eq!(balances.len(), n);
        assert_eq!(balances.iter().map(|(_, b)| b).sum::<Balance>(), GENESIS_SUPPLY);
    }
    assert!(genesis_config_presets::genesis_balances(&[]).is_empty());
}

fn signed_extrinsic(signer: &sr25519::Pair, nonce: u32, call: RuntimeCall) -> UncheckedExtrinsic {
    let tx_ext = openledger_runtime::tx_extension(nonce, 0);
    let payload = SignedPayload::new(call.clone(), tx_ext.clone()).expect("implicit data is available");
    let signature = payload.using_encoded(|bytes| signer.sign(bytes));
    UncheckedExtrinsic::new_signed(
        call,
        Address::Id(signer.public().into()),
        signature.into(),
        tx_ext,
    )
}

fn start_block(number: u32) {
    let header = openledger_runtime::Header::new(
        number,
        Default::default(),
        Default::default(),
        System::block_hash(number - 1),
        Default::default(),
    );
    Executive::initialize_block(&header);
}

#[test]
fn signed_transfer_moves_open_and_burns_a_fee_of_a_fraction_of_a_milli_open() {
    externalities("development").execute_with(|| {
        start_block(1);
        let alice = Sr25519Keyring::Alice;
        let dest = AccountId::from([7u8; 32]);
        let amount = 25 * OPEN;
        let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
            dest: dest.clone().into(),
            value: amount,
        });
        let xt = signed_extrinsic(&alice.pair(), 0, call);
        // The extrinsic's info includes the weight of its transaction extensions.
        let info = xt.get_dispatch_info();
        let len = xt.encoded_size() as u32;

        let alice_before = Balances::balance(&alice.to_account_id());
        let issuance_before = Balances::total_issuance();
        Executive::apply_extrinsic(xt).expect("valid").expect("dispatch succeeds");

        let fee: Balance = alice_before - amount - Balances::balance(&alice.to_account_id());
        assert_eq!(Balances::balance(&dest), amount);
        // The whole fee is burned: issuance falls by exactly the fee.
        assert_eq!(issuance_before - Balances::total_issuance(), fee);
        // Post-dispatch refunds may lower the fee below the pre-dispatch estimate, never raise it.
        let estimate = pallet_transaction_payment::Pallet::<Runtime>::compute_fee(len, &info, 0);
        assert!(fee > 0 && fee <= estimate, "fee {fee} estimate {estimate}");
        // Length fee alone is len µOPEN; the whole fee stays well under 1 milli-OPEN.
        assert!(fee >= len as Balance * fees::TRANSACTION_BYTE_FEE);
        assert!(fee < MILLI_OPEN, "a transfer must stay cheap, paid {fee}");
        assert_eq!(System::account_nonce(alice.to_account_id()), 1);
    });
}

#[test]
fn a_transfer_that_would_reap_below_the_existential_deposit_is_refused_and_pays_only_the_fee() {
    externalities("development").execute_with(|| {
        start_block(1);
        let dest = AccountId::from([9u8; 32]);
        let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
            dest: dest.clone().into(),
            value: fees::EXISTENTIAL_DEPOSIT - 1,
        });
        let xt = signed_extrinsic(&Sr25519Keyring::Bob.pair(), 0, call);
        let result = Executive::apply_extrinsic(xt).expect("valid transaction");
        assert!(result.is_err(), "dispatch must fail below the existential deposit");
        assert_eq!(Balances::balance(&dest), 0);
        assert!(Balances::balance(&Sr25519Keyring::Bob.to_account_id()) < genesis_config_presets::DEV_ENDOWMENT);
    });
}

#[test]
fn a_transaction_with_a_bad_signature_is_rejected_before_paying_anything() {
    externalities("development").execute_with(|| {
        start_block(1);
        let call = RuntimeCall::System(frame_system::Call::remark { remark: vec![1, 2, 3] });
        let good = signed_extrinsic(&Sr25519Keyring::Bob.pair(), 0, call.clone());
        let forged = match good.preamble {
            sp_runtime::generic::Preamble::Signed(address, _, ext) => UncheckedExtrinsic::new_signed(
                call,
                address,
                Sr25519Keyring::Charlie.pair().sign(b"something else").into(),
                ext,
            ),
            _ => unreachable!("built as signed"),
        };
        let bob_before = Balances::balance(&Sr25519Keyring::Bob.to_account_id());
        assert!(Executive::apply_extrinsic(forged).is_err());
        assert_eq!(Balances::balance(&Sr25519Keyring::Bob.to_account_id()), bob_before);
    });
}

#[test]
fn metadata_decodes_and_lists_the_pallets_and_extensions() {
    use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
    let versions = Runtime::metadata_versions();
    assert!(versions.contains(&14) && versions.contains(&15), "versions {versions:?}");

    let bytes: Vec<u8> = Runtime::metadata_at_version(15).expect("v15 is available").to_vec();
    let prefixed = RuntimeMetadataPrefixed::decode(&mut &bytes[..]).expect("metadata decodes");
    let RuntimeMetadata::V15(metadata) = prefixed.1 else { panic!("asked for v15") };
    let pallets: Vec<&str> = metadata.pallets.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        pallets,
        [
            "System",
            "Timestamp",
            "Aura",
            "Grandpa",
            "Balances",
            "TransactionPayment",
            "Sudo",
            "Datanets",
            "Models",
            "Staking",
            "Session",
            "Rewards",
            "Attribution"
        ]
    );
    let extensions: Vec<&str> =
        metadata.extrinsic.signed_extensions.iter().map(|e| e.identifier.as_str()).collect();
    assert!(extensions.contains(&"CheckMetadataHash"), "{extensions:?}");
    assert!(extensions.contains(&"ChargeTransactionPayment"), "{extensions:?}");

    let constants = &metadata.pallets.iter().find(|p| p.name == "Balances").unwrap().constants;
    let ed = constants.iter().find(|c| c.name == "ExistentialDeposit").unwrap();
    assert_eq!(Balance::decode(&mut &ed.value[..]).unwrap(), fees::EXISTENTIAL_DEPOSIT);
}

/// Applies `call` signed by `who` with `nonce` through `Executive`; the dispatch result.
fn apply(who: Sr25519Keyring, nonce: u32, call: RuntimeCall) -> sp_runtime::DispatchResult {
    let xt = signed_extrinsic(&who.pair(), nonce, call);
    Executive::apply_extrinsic(xt).expect("valid transaction")
}

fn bounded<S: frame_support::traits::Get<u32>>(s: &str) -> frame_support::BoundedVec<u8, S> {
    s.as_bytes().to_vec().try_into().expect("fits the bound")
}

#[test]
fn an_adapter_registers_against_a_datanet_version_published_through_the_datanets_pallet() {
    use openledger_primitives::models::{FeeSplit, ModelFormat, ModelInspect, ModelKind, ModelStatus};
    use openledger_runtime::{Datanets, Models, RuntimeHoldReason};
    use sp_core::H256;
    use sp_runtime::Perbill;

    externalities("development").execute_with(|| {
        start_block(1);
        let (alice, bob, charlie) = (Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie);

        // Bob's datanet with one accepted contribution, published as version 1.
        let datanet_calls = [
            RuntimeCall::Datanets(pallet_datanets::Call::create_datanet {
                name: bounded("medical-qa"),
                description: bounded("clinician-reviewed answers"),
                license: bounded("CC-BY-4.0"),
                tags: Default::default(),
                admission: pallet_datanets::Admission::Open,
                curation: pallet_datanets::CurationPolicy::Owner,
                deposit_per_byte: 0,
                deposit_policy: pallet_datanets::DepositPolicy::ReleaseAlways,
            }),
            RuntimeCall::Datanets(pallet_datanets::Call::contribute { datanet: 0, payload: b"Q: fever? A: rest".to_vec() }),
            RuntimeCall::Datanets(pallet_datanets::Call::accept { contribution: 0 }),
            RuntimeCall::Datanets(pallet_datanets::Call::publish_version { datanet: 0 }),
        ];
        for (nonce, call) in datanet_calls.into_iter().enumerate() {
            apply(bob, nonce as u32, call).expect("datanet call succeeds");
        }
        assert!(pallet_datanets::Versions::<Runtime>::get(0, 1).is_some());

        // Governance (sudo) registers the base model.
        let base = RuntimeCall::Models(pallet_models::Call::register_base_model {
            name: bounded("SmolLM2-135M-Instruct"),
            architecture: bounded("llama"),
            parameter_count: 135_000_000,
            artifact_hash: H256::repeat_byte(1),
            tokenizer_hash: H256::repeat_byte(2),
            license: bounded("Apache-2.0"),
            format: ModelFormat::Gguf,
        });
        // Without sudo it is refused.
        assert_eq!(apply(charlie, 0, base.clone()), Err(sp_runtime::DispatchError::BadOrigin));
        apply(alice, 0, RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(base) })).expect("sudo succeeds");
        assert!(Models::api_base_model(0).is_some(), "sudo dispatched the registration");

        let fee_split = FeeSplit {
            owner: Perbill::from_percent(50),
            contributors: Perbill::from_percent(40),
            attestors: Perbill::from_percent(8),
            treasury: Perbill::from_percent(2),
        };
        let register = |datanet_versions: Vec<(u32, u32)>, artifact: u8| {
            RuntimeCall::Models(pallet_models::Call::register_model {
                name: bounded("medical-qa-lora"),
                kind: ModelKind::LoraAdapter,
                base: Some(0),
                datanet_versions,
                training_config_hash: H256::repeat_byte(3),
                artifact_hash: H256::repeat_byte(artifact),
                attribution_index_hash: H256::repeat_byte(5),
                price_per_1k_tokens: 2 * MILLI_OPEN,
                fee_split,
                previous: None,
            })
        };
        // Version 2 is not published, datanet 7 does not exist: named errors, nothing held.
        let charlie_id = charlie.to_account_id();
        let reason: RuntimeHoldReason = pallet_models::HoldReason::ModelDeposit.into();
        use frame_support::traits::fungible::InspectHold;
        assert_eq!(
            apply(charlie, 1, register(vec![(0, 2)], 4)),
            Err(pallet_models::Error::<Runtime>::DatanetVersionNotPublished.into())
        );
        assert_eq!(
            apply(charlie, 2, register(vec![(7, 1)], 4)),
            Err(pallet_models::Error::<Runtime>::DatanetNotFound.into())
        );
        assert_eq!(Balances::balance_on_hold(&reason, &charlie_id), 0);

        apply(charlie, 3, register(vec![(0, 1)], 4)).expect("registration succeeds");
        let summary = <Models as ModelInspect<AccountId, Balance>>::model(0).expect("registered");
        assert_eq!(summary.owner, charlie_id);
        assert_eq!(summary.datanet_versions, vec![(0, 1)]);
        assert_eq!(summary.fee_split, fee_split);
        assert_eq!(summary.price_per_1k_tokens, 2 * MILLI_OPEN);
        assert_eq!(summary.status, ModelStatus::Active);
        assert_eq!(Balances::balance_on_hold(&reason, &charlie_id), OPEN);
        let info = Models::api_model(0).expect("runtime API sees it");
        assert_eq!((info.base, info.kind, info.version), (Some(0), ModelKind::LoraAdapter, 1));
        assert_eq!(Models::api_models_by_owner(charlie_id, 0, 10).len(), 1);

        Datanets::do_try_state().expect("datanets invariants");
        Models::do_try_state().expect("models invariants");
    });
}

/// Runs block `number` through `Executive` as an Aura author would build it: slot `number` in
/// the pre-runtime digest and the matching timestamp.
fn run_block(number: u32) {
    use sp_runtime::{generic::DigestItem, Digest};
    let slot = sp_consensus_aura::Slot::from(u64::from(number));
    let header = openledger_runtime::Header::new(
        number,
        Default::default(),
        Default::default(),
        System::block_hash(number - 1),
        Digest { logs: vec![DigestItem::PreRuntime(sp_consensus_aura::AURA_ENGINE_ID, slot.encode())] },
    );
    Executive::initialize_block(&header);
    frame_support::assert_ok!(pallet_timestamp::Pallet::<Runtime>::set(
        RuntimeOrigin::none(),
        u64::from(number) * SLOT_DURATION
    ));
    Executive::finalize_block();
}

#[test]
fn a_session_change_makes_the_top_n_candidates_by_stake_the_authorities() {
    use frame_support::assert_ok;
    let mut ext = externalities("local_testnet");
    ext.register_extension(sp_keystore::KeystoreExt::new(sp_keystore::testing::MemoryKeystore::new()));
    ext.execute_with(|| {
        let account = |k: Sr25519Keyring| k.to_account_id();
        let signed = |k: Sr25519Keyring| RuntimeOrigin::signed(k.to_account_id());
        let mut aura_of = std::collections::BTreeMap::new();
        // Eve and Ferdie join: session keys the way a node's `author_rotateKeysWithOwner`
        // makes them, a bond, the validator role.
        for (who, stake) in [(Sr25519Keyring::Eve, 300_000 * OPEN), (Sr25519Keyring::Ferdie, 200_000 * OPEN)] {
            let generated = SessionKeys::generate(&account(who).encode(), None);
            aura_of.insert(account(who), generated.keys.aura.clone());
            assert_ok!(Session::set_keys(signed(who), generated.keys, generated.proof.encode()));
            assert_ok!(Staking::bond(signed(who), stake));
            assert_ok!(Staking::declare_role(signed(who), Role::Validator));
        }
        // A candidate without session keys is never selected, whatever its stake.
        assert_ok!(Staking::bond(signed(Sr25519Keyring::One), 900_000 * OPEN));
        assert_ok!(Staking::declare_role(signed(Sr25519Keyring::One), Role::Validator));
        // Bob tops up to rank third; three seats.
        assert_ok!(Staking::bond(signed(Sr25519Keyring::Bob), 50_000 * OPEN));
        assert_ok!(Staking::set_validator_count(RuntimeOrigin::root(), 3));
        aura_of.insert(account(Sr25519Keyring::Bob), Sr25519Keyring::Bob.public().into());

        let genesis_validators = pallet_session::Validators::<Runtime>::get();
        // Block SESSION_PERIOD starts session 1 (queued at genesis) and plans session 2.
        for n in 1..=SESSION_PERIOD {
            run_block(n);
        }
        assert_eq!(pallet_session::CurrentIndex::<Runtime>::get(), 1);
        assert_eq!(pallet_session::Validators::<Runtime>::get(), genesis_validators);
        let mut top3 = vec![account(Sr25519Keyring::Eve), account(Sr25519Keyring::Ferdie), account(Sr25519Keyring::Bob)];
        top3.sort();
        let queued: Vec<AccountId> =
            pallet_session::QueuedKeys::<Runtime>::get().into_iter().map(|(v, _)| v).collect();
        assert_eq!(queued, top3);

        // Block 2 × SESSION_PERIOD starts session 2: the top three author and finalise.
        for n in SESSION_PERIOD + 1..=2 * SESSION_PERIOD {
            run_block(n);
        }
        assert_eq!(pallet_session::CurrentIndex::<Runtime>::get(), 2);
        assert_eq!(pallet_session::Validators::<Runtime>::get(), top3);
        let aura: Vec<_> = pallet_aura::Authorities::<Runtime>::get().into_inner();
        assert_eq!(aura, top3.iter().map(|v| aura_of[v].clone()).collect::<Vec<_>>());
        let grandpa = pallet_grandpa::Pallet::<Runtime>::grandpa_authorities();
        assert_eq!(grandpa.len(), 3);
        assert!(grandpa.contains(&(sp_keyring::Ed25519Keyring::Bob.public().into(), 1)));
        Staking::do_try_state().expect("staking invariants hold");
    });
}
