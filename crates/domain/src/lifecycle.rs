//! How a job's state follows from its tasks: the one place that decides success, retry and
//! failure, so that the agent's reports, node loss and the simulator all settle jobs alike.

use crate::job::TaskState;

/// One task of the job's current attempt, as far as settling needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome<'a> {
    pub replica: u32,
    pub node_name: &'a str,
    pub state: TaskState,
    pub exit_code: Option<i32>,
    pub message: Option<&'a str>,
}

/// What should happen to a running job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do: tasks are still starting or running.
    Unchanged,
    /// Every replica is running (the job was only assigned until now).
    Running,
    Succeeded,
    /// A replica failed or was lost and retries remain: stop the gang and queue it again.
    Requeue {
        reason: String,
    },
    /// A replica failed or was lost and no retries remain.
    Failed {
        reason: String,
    },
}

/// Settles a job from the tasks of its current attempt. `failures` counts earlier attempts
/// that failed; `max_retries` is from the job's spec.
pub fn settle(tasks: &[TaskOutcome<'_>], failures: u32, max_retries: u32) -> Verdict {
    if tasks.is_empty() {
        return Verdict::Unchanged;
    }
    let broken =
        tasks.iter().filter(|t| matches!(t.state, TaskState::Failed | TaskState::Lost)).min_by_key(|t| t.replica);
    if let Some(task) = broken {
        let what = match (task.state, task.exit_code) {
            (TaskState::Lost, _) => format!(
                "replica {} on {} was lost ({})",
                task.replica,
                task.node_name,
                task.message.unwrap_or("its node stopped answering")
            ),
            (_, Some(code)) => {
                format!("replica {} on {} exited with code {code}", task.replica, task.node_name)
            }
            (_, None) => format!(
                "replica {} on {} failed ({})",
                task.replica,
                task.node_name,
                task.message.unwrap_or("no exit code")
            ),
        };
        return if failures < max_retries {
            Verdict::Requeue { reason: format!("{what}; retry {} of {max_retries}", failures + 1) }
        } else if max_retries == 0 {
            Verdict::Failed { reason: what }
        } else {
            Verdict::Failed { reason: format!("{what}; all {max_retries} retries used") }
        };
    }
    if tasks.iter().all(|t| t.state == TaskState::Succeeded) {
        return Verdict::Succeeded;
    }
    if tasks.iter().all(|t| matches!(t.state, TaskState::Running | TaskState::Succeeded)) {
        return Verdict::Running;
    }
    Verdict::Unchanged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(replica: u32, state: TaskState, exit_code: Option<i32>) -> TaskOutcome<'static> {
        TaskOutcome { replica, node_name: "node-a", state, exit_code, message: None }
    }

    #[test]
    fn all_succeeded_is_success() {
        let tasks = [task(0, TaskState::Succeeded, Some(0)), task(1, TaskState::Succeeded, Some(0))];
        assert_eq!(settle(&tasks, 0, 0), Verdict::Succeeded);
    }

    #[test]
    fn partly_assigned_is_unchanged_and_all_running_is_running() {
        let tasks = [task(0, TaskState::Running, None), task(1, TaskState::Assigned, None)];
        assert_eq!(settle(&tasks, 0, 0), Verdict::Unchanged);
        let tasks = [task(0, TaskState::Running, None), task(1, TaskState::Succeeded, Some(0))];
        assert_eq!(settle(&tasks, 0, 0), Verdict::Running);
    }

    #[test]
    fn failure_requeues_while_retries_remain() {
        let tasks = [task(0, TaskState::Running, None), task(1, TaskState::Failed, Some(3))];
        assert_eq!(
            settle(&tasks, 0, 2),
            Verdict::Requeue { reason: "replica 1 on node-a exited with code 3; retry 1 of 2".into() }
        );
        assert_eq!(
            settle(&tasks, 2, 2),
            Verdict::Failed { reason: "replica 1 on node-a exited with code 3; all 2 retries used".into() }
        );
        assert_eq!(settle(&tasks, 0, 0), Verdict::Failed { reason: "replica 1 on node-a exited with code 3".into() });
    }

    #[test]
    fn lost_replica_names_its_node() {
        let tasks = [task(0, TaskState::Lost, None)];
        let Verdict::Requeue { reason } = settle(&tasks, 0, 1) else { panic!("expected requeue") };
        assert!(reason.contains("was lost (its node stopped answering)"), "{reason}");
    }
}
