//! Concurrency checks of the conformance suite: writers on separate
//! handles (connections) racing on a quota, on a unique instance name, on
//! an alias name and on re-pointing one alias, and a writer process killed
//! in the middle of its transaction. Each racing closure reads, pauses and
//! then writes, so a backend without a real write lock loses the race.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::store::conformance::{
    ConformanceFailure, ConformanceResult, Target, ensure, is_conflict, is_exists, ok,
    sample_container, sample_instance, sample_key,
};
use crate::store::conformance_suite::{location_arg, location_from_arg, open_raw};
use crate::store::traits::{KeyStore, NewAuditEntry, read_with, write_with};
use crate::store::{Alias, Container, StoreError, StoreResult};

/// Writers per race.
const WRITERS: usize = 3;
/// The pause between a writer's read and its write.
const PAUSE: Duration = Duration::from_millis(30);
/// Environment of the child process of [`killed_writer_leaves_nothing`].
const CHILD_STORE_VAR: &str = "KEYSHIFT_CONFORMANCE_CHILD_STORE";
const CHILD_INSTANCE_VAR: &str = "KEYSHIFT_CONFORMANCE_CHILD_INSTANCE";
/// What the child prints once its transaction has written.
const CHILD_MARKER: &str = "keyshift-conformance-child: inside the transaction";

fn uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Runs `job(i, handle)` on [`WRITERS`] threads at once, each with its own
/// handle, and returns their results in order.
fn race<T: Send>(
    target: &Target,
    job: impl Fn(usize, &dyn KeyStore) -> StoreResult<T> + Sync,
) -> Result<Vec<StoreResult<T>>, ConformanceFailure> {
    let handles = (0..WRITERS)
        .map(|_| target.handle())
        .collect::<Result<Vec<_>, _>>()?;
    let start = Barrier::new(WRITERS);
    let results = std::thread::scope(|s| {
        let running: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let (start, job) = (&start, &job);
                s.spawn(move || {
                    start.wait();
                    job(i, &**h)
                })
            })
            .collect();
        running
            .into_iter()
            .map(|r| {
                r.join()
                    .unwrap_or_else(|_| Err(StoreError::Conflict("writer thread panicked".into())))
            })
            .collect()
    });
    Ok(results)
}

/// A fresh instance with `quota` keys allowed, and its container.
fn setup(store: &dyn KeyStore, quota: i64) -> Result<Container, ConformanceFailure> {
    let mut inst = sample_instance();
    inst.key_quota = quota;
    let c = Container::Instance(inst.id.clone());
    ok(
        "setup",
        write_with(store, |tx| {
            tx.insert_instance(&inst)?;
            tx.put_container(&sample_container(c.clone()))
        }),
    )?;
    Ok(c)
}

/// Writers each create keys while the instance's count is below its quota
/// (read the count, pause, insert): the quota is never exceeded.
pub fn race_on_quota(target: &Target) -> ConformanceResult {
    let store = target.handle()?;
    let quota = 2;
    let c = setup(&*store, quota)?;
    let results = race(target, |_, h| {
        write_with(h, |tx| {
            let Some(id) = c.instance_id() else {
                return Err(StoreError::Conflict("not an instance".into()));
            };
            let inst = tx
                .instance(id)?
                .ok_or_else(|| StoreError::Conflict("instance vanished".into()))?;
            let held = tx.count_keys(&c)?;
            std::thread::sleep(PAUSE);
            if held >= inst.key_quota {
                return Err(StoreError::Conflict("key quota reached".into()));
            }
            tx.insert_key(&sample_key(c.clone()))
        })
    })?;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let held = ok("count", read_with(&*store, |r| r.count_keys(&c)))?;
    ensure!(
        held == quota,
        "{held} keys in an instance with quota {quota}"
    );
    ensure!(
        i64::try_from(won).ok() == Some(quota),
        "{won} writers succeeded, quota {quota}"
    );
    ensure!(
        results
            .iter()
            .all(|r| r.as_ref().err().is_none_or(is_conflict)),
        "the others were refused by the quota: {results:?}"
    );
    Ok(())
}

/// Writers insert instances with one name (look it up, pause, insert):
/// exactly one wins, the others get `AlreadyExists`.
pub fn race_on_instance_name(target: &Target) -> ConformanceResult {
    let name = format!("conf-race-{}", uid());
    let results = race(target, |_, h| {
        write_with(h, |tx| {
            let mut inst = sample_instance();
            inst.name = name.clone();
            if tx.instance_by_name(&name)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    kind: "instance",
                    id: name.clone(),
                });
            }
            std::thread::sleep(PAUSE);
            tx.insert_instance(&inst)
        })
    })?;
    one_winner("instance name", &results)?;
    let store = target.handle()?;
    let all = ok("instances", read_with(&*store, |r| r.instances()))?;
    let same = all.iter().filter(|i| i.name == name).count();
    ensure!(same == 1, "{same} instances named {name}");
    Ok(())
}

fn one_winner(what: &str, results: &[StoreResult<()>]) -> ConformanceResult {
    let won = results.iter().filter(|r| r.is_ok()).count();
    ensure!(won == 1, "{what}: {won} writers won: {results:?}");
    ensure!(
        results.iter().all(|r| r
            .as_ref()
            .err()
            .is_none_or(|e| is_exists(e) || is_conflict(e))),
        "{what}: the losers get AlreadyExists or Conflict: {results:?}"
    );
    Ok(())
}

/// Writers create one alias name for different keys: exactly one wins.
pub fn race_on_alias_name(target: &Target) -> ConformanceResult {
    let store = target.handle()?;
    let c = setup(&*store, 100)?;
    let keys: Vec<_> = (0..WRITERS).map(|_| sample_key(c.clone())).collect();
    ok(
        "keys",
        write_with(&*store, |tx| keys.iter().try_for_each(|k| tx.insert_key(k))),
    )?;
    let name = format!("alias/conf-race-{}", uid());
    let results = race(target, |i, h| {
        write_with(h, |tx| {
            if tx.alias(&name)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    kind: "alias",
                    id: name.clone(),
                });
            }
            std::thread::sleep(PAUSE);
            let key_id = keys.get(i).map(|k| k.id.clone()).unwrap_or_default();
            tx.insert_alias(&Alias {
                name: name.clone(),
                key_id,
                created_at: "2025-01-01T00:00:00Z".into(),
            })
        })
    })?;
    one_winner("alias name", &results)?;
    let alias = ok("alias", read_with(&*store, |r| r.alias(&name)))?;
    let winner = results.iter().position(|r| r.is_ok());
    let want = winner.and_then(|i| keys.get(i)).map(|k| k.id.clone());
    ensure!(
        alias.map(|a| a.key_id) == want,
        "the alias points at the winner's key"
    );
    Ok(())
}

/// Writers re-point one alias (read its target, pause, point it at their
/// key, log `previous -> new` in the same transaction): every writer
/// succeeds, the log forms one chain (no lost update) and the alias ends on
/// the last writer's key.
pub fn race_repointing_an_alias(target: &Target) -> ConformanceResult {
    let store = target.handle()?;
    let c = setup(&*store, 100)?;
    let keys: Vec<_> = (0..=WRITERS).map(|_| sample_key(c.clone())).collect();
    let name = format!("alias/conf-repoint-{}", uid());
    let first = keys.first().map(|k| k.id.clone()).unwrap_or_default();
    ok(
        "setup",
        write_with(&*store, |tx| {
            keys.iter().try_for_each(|k| tx.insert_key(k))?;
            tx.insert_alias(&Alias {
                name: name.clone(),
                key_id: first.clone(),
                created_at: "t".into(),
            })
        }),
    )?;
    let results = race(target, |i, h| {
        write_with(h, |tx| {
            let mut alias = tx
                .alias(&name)?
                .ok_or_else(|| StoreError::Conflict("alias vanished".into()))?;
            std::thread::sleep(PAUSE);
            let previous = alias.key_id.clone();
            alias.key_id = keys.get(i + 1).map(|k| k.id.clone()).unwrap_or_default();
            tx.update_alias(&alias)?;
            tx.append_audit(&NewAuditEntry {
                at: "2025-01-01T00:00:00Z".into(),
                actor: "conformance".into(),
                action: "test.repoint".into(),
                object: name.clone(),
                outcome: "ok".into(),
                detail: format!("{previous} -> {}", alias.key_id),
            })
            .map(drop)
        })
    })?;
    ensure!(
        results.iter().all(Result::is_ok),
        "every re-pointing writer succeeds: {results:?}"
    );
    let audit = ok("audit", read_with(&*store, |r| r.audit(1000)))?;
    let mut chain: Vec<(String, String)> = audit
        .iter()
        .rev()
        .filter(|a| a.object == name)
        .filter_map(|a| {
            a.detail
                .split_once(" -> ")
                .map(|(p, n)| (p.to_string(), n.to_string()))
        })
        .collect();
    ensure!(chain.len() == WRITERS, "{} re-points logged", chain.len());
    let mut expected_previous = first;
    for (previous, new) in chain.drain(..) {
        ensure!(
            previous == expected_previous,
            "lost update: a writer re-pointed from {previous}, but the alias was on {expected_previous}"
        );
        expected_previous = new;
    }
    let alias = ok("alias", read_with(&*store, |r| r.alias(&name)))?;
    ensure!(
        alias.map(|a| a.key_id) == Some(expected_previous),
        "the alias ends on the last writer's key"
    );
    Ok(())
}

/// A child process writes an instance, its container, a key and an audit
/// entry in one transaction and is killed (SIGKILL) before committing:
/// none of it is visible, and the store takes the next write at once.
pub fn killed_writer_leaves_nothing(target: &Target) -> ConformanceResult {
    let Some(test) = &target.child_test else {
        return Ok(());
    };
    let store = target.handle()?;
    let exe = std::env::current_exe()
        .map_err(|e| ConformanceFailure(format!("current test binary: {e}")))?;
    let instance = sample_instance();
    let mut child = Command::new(exe)
        .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_STORE_VAR, location_arg(&target.location))
        .env(CHILD_INSTANCE_VAR, &instance.id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| ConformanceFailure(format!("start the child writer: {e}")))?;
    let out = child.stdout.take();
    let (report, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let seen = out.is_some_and(|out| {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .any(|l| l.contains(CHILD_MARKER))
        });
        let _ = report.send(seen);
    });
    let seen = seen.recv_timeout(Duration::from_secs(60)).unwrap_or(false);
    let _ = child.kill();
    let _ = child.wait();
    ensure!(
        seen,
        "the child never reported being inside its transaction"
    );
    ensure!(
        ok("instance", read_with(&*store, |r| r.instance(&instance.id)))?.is_none(),
        "the killed writer's instance is visible"
    );
    let c = Container::Instance(instance.id.clone());
    ensure!(
        ok("container", read_with(&*store, |r| r.container(&c)))?.is_none(),
        "the killed writer's container is visible"
    );
    let audit = ok("audit", read_with(&*store, |r| r.audit(100)))?;
    ensure!(
        audit.iter().all(|a| a.object != instance.id),
        "the killed writer's audit entry is visible"
    );
    let started = Instant::now();
    ok(
        "write after the kill",
        write_with(&*store, |tx| tx.insert_instance(&sample_instance())),
    )?;
    ensure!(
        started.elapsed() < Duration::from_secs(5),
        "the next write waited {:?} for the dead writer's lock",
        started.elapsed()
    );
    Ok(())
}

/// The child of [`killed_writer_leaves_nothing`]: without its environment
/// (a normal test run) it does nothing; otherwise it writes, reports, and
/// waits inside the transaction to be killed.
#[allow(clippy::panic)]
pub fn child_main() {
    let (Ok(location), Ok(instance_id)) = (
        std::env::var(CHILD_STORE_VAR),
        std::env::var(CHILD_INSTANCE_VAR),
    ) else {
        return;
    };
    let store = open_raw(&location_from_arg(&location))
        .unwrap_or_else(|e| panic!("child: open the store: {e}"));
    let mut instance = sample_instance();
    instance.id = instance_id;
    let c = Container::Instance(instance.id.clone());
    let r: StoreResult<()> = write_with(&*store, |tx| {
        tx.insert_instance(&instance)?;
        tx.put_container(&sample_container(c.clone()))?;
        tx.insert_key(&sample_key(c.clone()))?;
        tx.append_audit(&NewAuditEntry {
            at: "2025-01-01T00:00:00Z".into(),
            actor: "conformance-child".into(),
            action: "test.killed".into(),
            object: instance.id.clone(),
            outcome: "ok".into(),
            detail: String::new(),
        })?;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{CHILD_MARKER}");
        let _ = out.flush();
        std::thread::sleep(Duration::from_secs(120));
        Err(StoreError::Conflict("the child was not killed".into()))
    });
    panic!("child: the transaction ended instead of being killed: {r:?}");
}
