//! What only `LocalFs` has to prove: nothing leaves the root through symbolic links, writes
//! leave no temporary files, and the file layout's limits are typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use bytes::Bytes;
use coffer_store::{ByteRange, Error, LocalFs, ObjectKey, ObjectStore, PutOptions};
use futures::{StreamExt, TryStreamExt};

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(name).unwrap()
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::PermissionDenied { detail, .. }) => {
            assert!(detail.contains("symbolic link"), "{what}: {detail}");
        }
        other => panic!("{what}: expected PermissionDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn symlinked_directory_inside_the_root_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), b"outside data").unwrap();
    let store = LocalFs::new(root.path()).unwrap();
    symlink(outside.path(), store.objects_dir().join("evil")).unwrap();

    let data = Bytes::from_static(b"x");
    assert_refused(
        store
            .put(&key("evil/new"), data.clone(), &PutOptions::overwrite())
            .await,
        "put",
    );
    assert_refused(
        store
            .put(&key("evil/deeper/new"), data, &PutOptions::create_only())
            .await,
        "put creating directories",
    );
    let stream = futures::stream::iter([Ok(Bytes::from_static(b"y"))]).boxed();
    assert_refused(
        store
            .put_stream(&key("evil/s"), stream, &PutOptions::overwrite())
            .await,
        "stream",
    );
    assert_refused(store.get(&key("evil/secret")).await, "get");
    assert_refused(
        store.get_stream(&key("evil/secret")).await.map(|r| r.meta),
        "get_stream",
    );
    assert_refused(
        store
            .get_range(&key("evil/secret"), ByteRange::new(0, 3).unwrap())
            .await,
        "range",
    );
    assert_refused(store.head(&key("evil/secret")).await, "head");
    assert_refused(store.delete(&key("evil/secret")).await, "delete");
    assert_refused(store.list("").try_collect::<Vec<_>>().await, "list");

    let mut names: Vec<_> = fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["secret"], "nothing was written outside the root");
    assert_eq!(
        fs::read(outside.path().join("secret")).unwrap(),
        b"outside data"
    );
}

#[tokio::test]
async fn symlinked_object_is_never_followed() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    fs::write(&secret, b"outside data").unwrap();
    let store = LocalFs::new(root.path()).unwrap();
    symlink(&secret, store.objects_dir().join("link")).unwrap();

    assert_refused(store.get(&key("link")).await, "get");
    assert_refused(
        store.get_stream(&key("link")).await.map(|r| r.meta),
        "get_stream",
    );
    assert_refused(
        store
            .get_range(&key("link"), ByteRange::new(0, 1).unwrap())
            .await,
        "range",
    );
    assert_refused(store.head(&key("link")).await, "head");
    assert_refused(store.delete(&key("link")).await, "delete");
    assert!(matches!(
        store
            .put(
                &key("link"),
                Bytes::from_static(b"new"),
                &PutOptions::create_only()
            )
            .await,
        Err(Error::AlreadyExists { .. })
    ));
    // An overwrite replaces the link itself (rename does not follow it): the object lands
    // inside the root and the file outside is untouched.
    store
        .put(
            &key("link"),
            Bytes::from_static(b"new"),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    assert_eq!(fs::read(&secret).unwrap(), b"outside data");
    let meta = fs::symlink_metadata(store.objects_dir().join("link")).unwrap();
    assert!(meta.is_file());
    assert_eq!(
        store.get(&key("link")).await.unwrap(),
        Bytes::from_static(b"new")
    );
}

#[tokio::test]
async fn writes_leave_no_temporary_files_and_objects_are_private() {
    let root = tempfile::tempdir().unwrap();
    let store = LocalFs::new(root.path()).unwrap();
    store
        .put(
            &key("a/b"),
            Bytes::from_static(b"1"),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    store
        .put(
            &key("a/b"),
            Bytes::from_static(b"2"),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    store
        .put(
            &key("a/c"),
            Bytes::from_static(b"3"),
            &PutOptions::create_only(),
        )
        .await
        .unwrap();
    let _ = store
        .put(
            &key("a/c"),
            Bytes::from_static(b"4"),
            &PutOptions::create_only(),
        )
        .await;
    let failing = futures::stream::iter([
        Ok(Bytes::from(vec![0u8; 3 << 20])),
        Err(Error::Unavailable {
            detail: "gone".into(),
        }),
    ])
    .boxed();
    assert!(
        store
            .put_stream(&key("a/d"), failing, &PutOptions::overwrite())
            .await
            .is_err()
    );
    let stream = futures::stream::iter([Ok(Bytes::from_static(b"5"))]).boxed();
    store
        .put_stream(&key("a/e"), stream, &PutOptions::create_only())
        .await
        .unwrap();

    let leftovers: Vec<_> = fs::read_dir(root.path().join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let mode = fs::metadata(store.objects_dir().join("a/b"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn objects_survive_reopening_and_the_root_may_be_a_link() {
    let real = tempfile::tempdir().unwrap();
    let links = tempfile::tempdir().unwrap();
    let via_link = links.path().join("store");
    symlink(real.path(), &via_link).unwrap();
    {
        let store = LocalFs::new(&via_link).unwrap();
        store
            .put(
                &key("k/v"),
                Bytes::from_static(b"kept"),
                &PutOptions::overwrite(),
            )
            .await
            .unwrap();
    }
    let reopened = LocalFs::new(real.path()).unwrap();
    assert_eq!(
        reopened.get(&key("k/v")).await.unwrap(),
        Bytes::from_static(b"kept")
    );
}

#[tokio::test]
async fn an_object_and_a_directory_cannot_share_a_name() {
    let root = tempfile::tempdir().unwrap();
    let store = LocalFs::new(root.path()).unwrap();
    let data = Bytes::from_static(b"x");
    store
        .put(&key("a"), data.clone(), &PutOptions::overwrite())
        .await
        .unwrap();
    assert!(matches!(
        store
            .put(&key("a/b"), data.clone(), &PutOptions::overwrite())
            .await,
        Err(Error::Conflict { .. })
    ));
    store
        .put(&key("c/d"), data.clone(), &PutOptions::overwrite())
        .await
        .unwrap();
    for options in [PutOptions::overwrite(), PutOptions::create_only()] {
        match store.put(&key("c"), data.clone(), &options).await {
            Err(Error::Conflict { .. }) => {}
            other => panic!("{options:?}: {other:?}"),
        }
    }
    // Deleting the "directory" name deletes nothing.
    store.delete(&key("c")).await.unwrap();
    assert_eq!(store.get(&key("c/d")).await.unwrap(), data);
}
