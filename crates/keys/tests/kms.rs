//! The `Kms` seam itself: one suite for LocalKms and AwsKms on moto, then what only AWS (or
//! moto) shows: its error codes mapped to typed errors, and an unreachable endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use coffer_keys::{AwsKms, DataKey, EncryptionContext, Error, Kms, WrappedKey};
use common::Provider;
use secrecy::ExposeSecret;

fn context() -> EncryptionContext {
    EncryptionContext::new()
        .with("coffer:purpose", "org-kek")
        .with("coffer:org", "00D000000000001")
        .with("coffer:kek-version", "1")
}

async fn generate_wrap_unwrap_round_trip(provider: Provider) {
    let setup = provider.setup().await;
    let kms = &setup.kms;
    let root = kms.default_key_id().to_owned();

    let generated = kms.generate_data_key(&root, &context()).await.unwrap();
    let unwrapped = kms
        .unwrap(&root, &generated.wrapped, &context())
        .await
        .unwrap();
    assert_eq!(
        unwrapped.expose_secret(),
        generated.plaintext.expose_secret()
    );

    let own = DataKey::from_slice(&[42; 32]).unwrap();
    let wrapped = kms.wrap(&root, &own, &context()).await.unwrap();
    assert_ne!(wrapped.as_bytes(), generated.wrapped.as_bytes());
    assert_eq!(
        kms.unwrap(&root, &wrapped, &context())
            .await
            .unwrap()
            .expose_secret(),
        &[42; 32]
    );

    // The same key wrapped twice gives different ciphertexts (random nonces).
    let again = kms.wrap(&root, &own, &context()).await.unwrap();
    assert_ne!(again.as_bytes(), wrapped.as_bytes());

    // Rewrap to the second root key, and back.
    let moved = kms
        .rewrap(&root, &wrapped, &context(), &setup.second_key, &context())
        .await
        .unwrap();
    assert_eq!(
        kms.unwrap(&setup.second_key, &moved, &context())
            .await
            .unwrap()
            .expose_secret(),
        &[42; 32]
    );
}

async fn context_and_integrity_are_enforced(provider: Provider) {
    let setup = provider.setup().await;
    let kms = &setup.kms;
    let root = kms.default_key_id().to_owned();
    let generated = kms.generate_data_key(&root, &context()).await.unwrap();

    let other = context().with("coffer:kek-version", "2");
    assert!(matches!(
        kms.unwrap(&root, &generated.wrapped, &other).await,
        Err(Error::Unwrap)
    ));
    assert!(matches!(
        kms.unwrap(&root, &generated.wrapped, &EncryptionContext::new())
            .await,
        Err(Error::Unwrap)
    ));
    let extra = context().with("extra", "pair");
    assert!(matches!(
        kms.unwrap(&root, &generated.wrapped, &extra).await,
        Err(Error::Unwrap)
    ));

    // Flip a bit in the last byte (the tag for both formats).
    let mut bytes = generated.wrapped.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = WrappedKey::from_bytes(bytes).unwrap();
    assert!(matches!(
        kms.unwrap(&root, &tampered, &context()).await,
        Err(Error::Unwrap)
    ));

    let unknown = match provider {
        Provider::Local => "missing".to_owned(),
        Provider::Moto => "2b7f4c8e-0000-4000-8000-000000000000".to_owned(),
    };
    let err = kms
        .generate_data_key(&unknown, &context())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::KmsKeyNotFound { ref key_id } if key_id == &unknown),
        "{err:?}"
    );

    // A ciphertext of one root key presented as another's never yields a key. AWS answers
    // IncorrectKeyException (-> Unwrap); moto answers AccessDeniedException (-> KmsDenied).
    let err = kms
        .unwrap(&setup.second_key, &generated.wrapped, &context())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unwrap | Error::KmsDenied { .. }),
        "{err:?}"
    );
}

kms_matrix!(
    generate_wrap_unwrap_round_trip,
    context_and_integrity_are_enforced
);

#[tokio::test]
async fn moto_access_denied_maps_to_denied() {
    let client = common::moto_client().await;
    let first = common::create_moto_key(&client).await;
    let second = common::create_moto_key(&client).await;
    let kms = AwsKms::new(client, first.clone());
    let wrapped = kms
        .generate_data_key(&first, &context())
        .await
        .unwrap()
        .wrapped;
    // moto checks the KeyId of Decrypt against the ciphertext's key with AccessDenied.
    let err = kms.unwrap(&second, &wrapped, &context()).await.unwrap_err();
    assert!(
        matches!(err, Error::KmsDenied { ref detail } if detail.contains("AccessDenied")),
        "{err:?}"
    );
}

#[tokio::test]
async fn moto_malformed_ciphertext_is_unwrap() {
    let client = common::moto_client().await;
    let key = common::create_moto_key(&client).await;
    let kms = AwsKms::new(client, key.clone());
    let garbage = WrappedKey::from_bytes(vec![7_u8; 8]).unwrap();
    let err = kms.unwrap(&key, &garbage, &context()).await.unwrap_err();
    assert!(matches!(err, Error::Unwrap), "{err:?}");
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let credentials = aws_credential_types::Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "coffer-keys-test",
    );
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    let kms = AwsKms::new(aws_sdk_kms::Client::from_conf(config), "alias/coffer");
    let err = kms
        .generate_data_key("alias/coffer", &context())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::KmsUnavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn connect_builds_a_client_for_an_endpoint() {
    let endpoint = match coffer_testkit::endpoint(coffer_testkit::Service::Kms) {
        Ok(endpoint) => endpoint,
        Err(err) => panic!("{err}"),
    };
    let key = common::create_moto_key(&common::moto_client().await).await;
    // Credentials come from the environment here (scripts/test exports moto's test ones); the
    // region and endpoint from the config.
    let kms = AwsKms::connect(
        coffer_keys::AwsKmsConfig::new(key.clone())
            .with_region("us-east-1")
            .with_endpoint(endpoint),
    )
    .await;
    assert_eq!(kms.default_key_id(), key);
    let generated = kms.generate_data_key(&key, &context()).await.unwrap();
    let unwrapped = kms
        .unwrap(&key, &generated.wrapped, &context())
        .await
        .unwrap();
    assert_eq!(
        unwrapped.expose_secret(),
        generated.plaintext.expose_secret()
    );
}
