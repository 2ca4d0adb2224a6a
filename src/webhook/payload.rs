//! The JSON body of a pipeline webhook, and the `webhook-id` that names it.
//!
//! The body carries what Bytebase's rollout webhooks carry (plan id and title,
//! project, a level and a summary, a link) plus the contract's episode, so a receiver
//! and the checker can tell which announcement a request belongs to.

use serde::{Deserialize, Serialize};

use crate::model::{EventType, PlanId, TaskId};

/// The body of a PIPELINE_FAILED or PIPELINE_COMPLETED webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The plan (rollout).
    pub plan: PlanId,
    /// The plan's title.
    pub title: String,
    /// The plan's project.
    pub project: String,
    /// The event announced.
    pub event: EventType,
    /// The plan's episode the event belongs to.
    pub episode: u32,
    /// `ERROR` for a failure, `INFO` for a completion.
    pub level: Level,
    /// `Rollout failed` or `Rollout completed`.
    pub summary: String,
    /// The tasks whose latest run failed (empty for a completion).
    pub failed_tasks: Vec<FailedTask>,
    /// Where a person would look at the rollout.
    pub link: String,
}

/// How loud a webhook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Something failed.
    Error,
    /// Something finished well.
    Info,
}

/// A failed task, as a PIPELINE_FAILED webhook lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedTask {
    /// The task.
    pub task: TaskId,
    /// Its name.
    pub name: String,
    /// The error of its latest run.
    pub error: String,
}

impl Payload {
    /// The PIPELINE_FAILED body for `plan` in `episode`, naming the failed tasks.
    pub fn failed(
        plan: PlanId,
        title: &str,
        project: &str,
        episode: u32,
        failed_tasks: Vec<FailedTask>,
    ) -> Self {
        Payload::new(plan, title, project, EventType::PipelineFailed, episode, failed_tasks)
    }

    /// The PIPELINE_COMPLETED body for `plan` in `episode`.
    pub fn completed(plan: PlanId, title: &str, project: &str, episode: u32) -> Self {
        Payload::new(plan, title, project, EventType::PipelineCompleted, episode, Vec::new())
    }

    fn new(
        plan: PlanId,
        title: &str,
        project: &str,
        event: EventType,
        episode: u32,
        failed_tasks: Vec<FailedTask>,
    ) -> Self {
        let (level, summary) = match event {
            EventType::PipelineFailed => (Level::Error, "Rollout failed"),
            EventType::PipelineCompleted => (Level::Info, "Rollout completed"),
        };
        Payload {
            plan,
            title: title.to_owned(),
            project: project.to_owned(),
            event,
            episode,
            level,
            summary: summary.to_owned(),
            failed_tasks,
            link: format!("http://hasim.invalid/projects/{project}/plans/{plan}"),
        }
    }

    /// The `webhook-id` of this body: see [`webhook_id`].
    pub fn webhook_id(&self) -> String {
        webhook_id(self.plan, self.event, self.episode)
    }

    /// The body as JSON bytes, as it goes on the wire and into the signature.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a payload has only string keys and plain values")
    }
}

const ID_PREFIX: &str = "msg_plan";
const EPISODE_PREFIX: &str = "ep";

/// The `webhook-id` of an announcement: `msg_plan{plan}_{failed|completed}_ep{episode}`.
///
/// It depends only on what is announced, so every retry of the same announcement
/// carries the same id and a receiver can deduplicate on it.
pub fn webhook_id(plan: PlanId, event: EventType, episode: u32) -> String {
    format!("{ID_PREFIX}{plan}_{}_{EPISODE_PREFIX}{episode}", event_word(event))
}

/// The inverse of [`webhook_id`]: the plan, event and episode an id names, or `None`
/// for any string [`webhook_id`] does not produce.
pub fn parse_webhook_id(id: &str) -> Option<(PlanId, EventType, u32)> {
    let mut parts = id.strip_prefix(ID_PREFIX)?.split('_');
    let plan = PlanId(parts.next()?.parse().ok()?);
    let event = match parts.next()? {
        "failed" => EventType::PipelineFailed,
        "completed" => EventType::PipelineCompleted,
        _ => return None,
    };
    let episode = parts.next()?.strip_prefix(EPISODE_PREFIX)?.parse().ok()?;
    // Rejects trailing parts and non-canonical numbers (`+1`, `01`).
    (webhook_id(plan, event, episode) == id).then_some((plan, event, episode))
}

fn event_word(event: EventType) -> &'static str {
    match event {
        EventType::PipelineFailed => "failed",
        EventType::PipelineCompleted => "completed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_payload() -> Payload {
        let task = FailedTask { task: TaskId(7), name: "migrate".into(), error: "boom".into() };
        Payload::failed(PlanId(3), "release", "shop", 2, vec![task])
    }

    #[test]
    fn failed_payload_has_the_documented_json_shape() {
        let json: serde_json::Value = serde_json::from_slice(&failed_payload().to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "plan": 3,
                "title": "release",
                "project": "shop",
                "event": "PIPELINE_FAILED",
                "episode": 2,
                "level": "ERROR",
                "summary": "Rollout failed",
                "failed_tasks": [{ "task": 7, "name": "migrate", "error": "boom" }],
                "link": "http://hasim.invalid/projects/shop/plans/3",
            })
        );
    }

    #[test]
    fn completed_payload_is_info_without_failed_tasks() {
        let payload = Payload::completed(PlanId(3), "release", "shop", 4);
        assert_eq!(payload.event, EventType::PipelineCompleted);
        assert_eq!(payload.level, Level::Info);
        assert_eq!(payload.summary, "Rollout completed");
        assert!(payload.failed_tasks.is_empty());
        assert_eq!(payload.webhook_id(), "msg_plan3_completed_ep4");
    }

    #[test]
    fn payload_round_trips_through_json() {
        let payload = failed_payload();
        let back: Payload = serde_json::from_slice(&payload.to_json()).unwrap();
        assert_eq!(back, payload);
    }

    #[test]
    fn webhook_id_round_trips_for_every_event() {
        for &event in EventType::ALL {
            for (plan, episode) in [(PlanId(1), 0), (PlanId(42), 7), (PlanId(i64::MAX), u32::MAX)] {
                let id = webhook_id(plan, event, episode);
                assert_eq!(parse_webhook_id(&id), Some((plan, event, episode)), "{id}");
            }
        }
        assert_eq!(webhook_id(PlanId(5), EventType::PipelineFailed, 1), "msg_plan5_failed_ep1");
    }

    #[test]
    fn parse_webhook_id_rejects_anything_else() {
        for id in [
            "",
            "msg_plan",
            "msg_plan5",
            "msg_plan5_failed",
            "msg_plan5_failed_1",
            "msg_plan5_skipped_ep1",
            "msg_plan5_failed_ep1_x",
            "msg_plan+5_failed_ep1",
            "msg_plan05_failed_ep1",
            "msg_plan5_failed_ep01",
            "msg_plan5_failed_ep-1",
            "msg_planx_completed_ep1",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
        ] {
            assert_eq!(parse_webhook_id(id), None, "{id:?}");
        }
    }
}
