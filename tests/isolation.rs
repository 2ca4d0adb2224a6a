//! Runs against Postgres live in schemas of their own: parallel runs on one server do
//! not see each other's rows, and a run's schema is gone when it ends.

mod common;

use common::{PgFixture, run, schema_exists};
use hasim::Error;
use hasim::model::{EventType, PlanId};
use hasim::store::{Claim, NewPlan, RunSchema, Store};

#[test]
fn parallel_runs_do_not_see_each_others_rows_and_their_schemas_are_dropped() {
    run(async {
        let (a, b) = (PgFixture::new().await, PgFixture::new().await);
        assert_ne!(a.schema.name(), b.schema.name());
        let (sa, sb) = (a.store(2).await, b.store(2).await);
        let plan = NewPlan { project: "p".into(), title: "t".into(), tasks: vec!["x".into()] };
        // The two runs write at the same time, each on its own connections. Both get
        // plan id 1, the first value of a fresh sequence: their sequences are separate.
        let (pa, pb) = tokio::join!(sa.create_plan(&plan), sb.create_plan(&plan));
        let (pa, pb) = (pa.unwrap(), pb.unwrap());
        assert_eq!((pa.plan, pb.plan), (PlanId(1), PlanId(1)));
        // Each claims the same plan's row at once, and both win: neither sees the
        // other's table.
        let (ca, cb) = tokio::join!(
            sa.claim_event(pa.plan, EventType::PipelineFailed),
            sb.claim_event(pb.plan, EventType::PipelineFailed)
        );
        assert_eq!((ca.unwrap(), cb.unwrap()), (Claim::Won, Claim::Won), "one run saw the other's row");
        assert_eq!(sa.claims().await.unwrap().len(), 1);
        assert_eq!(sb.claims().await.unwrap().len(), 1);

        let names = [a.schema.name().to_owned(), b.schema.name().to_owned()];
        assert!(schema_exists(&names[0]).await && schema_exists(&names[1]).await);
        // A connection left open (a replica that never shut down) does not keep it alive.
        drop((a, b));
        for name in &names {
            assert!(!schema_exists(name).await, "{name} still exists");
        }
        drop((sa, sb));
    });
}

#[test]
fn an_unreachable_server_is_a_clear_error_naming_the_url_without_its_password() {
    run(async {
        let err = RunSchema::create("postgres://alice:hunter2@127.0.0.1:1/postgres").await.unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("postgres://alice@127.0.0.1:1/postgres"), "{text}");
        assert!(!text.contains("hunter2"), "password leaked: {text}");
        assert!(text.contains("pg_ctlcluster"), "says how to start a server: {text}");
    });
}

#[test]
fn a_malformed_url_is_a_clear_error() {
    run(async {
        let err = RunSchema::create("mysql://nobody@127.0.0.1/x").await.unwrap_err();
        assert!(matches!(err, Error::BadUrl { .. }), "{err:?}");
    });
}
