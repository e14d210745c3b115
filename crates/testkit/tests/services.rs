//! Proves the wiring of each service `scripts/test` starts: one real round trip per service.
//! A missing service fails these tests with a message naming `scripts/test`.

use aws_sdk_s3::primitives::ByteStream;

#[tokio::test]
async fn s3_put_then_get_round_trips_through_moto() {
    let s3 = coffer_testkit::s3_client()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bucket = coffer_testkit::unique_name("testkit");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");

    let body = b"coffer testkit wiring".to_vec();
    s3.put_object()
        .bucket(&bucket)
        .key("probe/object")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put object");
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("probe/object")
        .send()
        .await
        .expect("get object")
        .body
        .collect()
        .await
        .expect("read body")
        .into_bytes();
    assert_eq!(got.as_ref(), body.as_slice());
}

#[tokio::test]
async fn kms_generate_data_key_then_decrypt_round_trips_through_moto() {
    let kms = coffer_testkit::kms_client()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let key_id = kms
        .create_key()
        .description("coffer-testkit wiring")
        .send()
        .await
        .expect("create key")
        .key_metadata
        .expect("key metadata")
        .key_id;

    let generated = kms
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .encryption_context("org", "00D000000000001EAA")
        .send()
        .await
        .expect("generate data key");
    let plaintext = generated.plaintext.expect("plaintext key");
    let wrapped = generated.ciphertext_blob.expect("wrapped key");
    assert_eq!(plaintext.as_ref().len(), 32);
    assert_ne!(plaintext.as_ref(), wrapped.as_ref());

    let unwrapped = kms
        .decrypt()
        .ciphertext_blob(wrapped.clone())
        .encryption_context("org", "00D000000000001EAA")
        .send()
        .await
        .expect("decrypt")
        .plaintext
        .expect("plaintext");
    assert_eq!(unwrapped.as_ref(), plaintext.as_ref());

    // The encryption context is bound: another org's context must not unwrap the key.
    let wrong = kms
        .decrypt()
        .ciphertext_blob(wrapped)
        .encryption_context("org", "00D000000000002EAA")
        .send()
        .await;
    assert!(
        wrong.is_err(),
        "decrypt with a different encryption context must fail"
    );
}

#[tokio::test]
async fn postgres_answers_a_query() {
    let url = coffer_testkit::postgres_url().unwrap_or_else(|e| panic!("{e}"));
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("connect to PostgreSQL");
    let table = coffer_testkit::unique_name("probe").replace('-', "_");
    sqlx::query(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, note TEXT NOT NULL)"
    ))
    .execute(&pool)
    .await
    .expect("create table");
    sqlx::query(&format!("INSERT INTO {table} (id, note) VALUES ($1, $2)"))
        .bind(7_i64)
        .bind("wired")
        .execute(&pool)
        .await
        .expect("insert");
    let (note,): (String,) = sqlx::query_as(&format!("SELECT note FROM {table} WHERE id = $1"))
        .bind(7_i64)
        .fetch_one(&pool)
        .await
        .expect("select");
    assert_eq!(note, "wired");
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&pool)
        .await
        .expect("drop table");
}
