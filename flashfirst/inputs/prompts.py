"""Default instructions per task, used when an item brings no prompt of its own."""

from flashfirst.items import TaskKind, WorkItem

DEFAULT_PROMPTS: dict[TaskKind, str] = {
    TaskKind.SUMMARIZE: "Summarize the content above in at most five sentences.",
    TaskKind.EXTRACT: "Extract the key facts from the content above.",
    TaskKind.CLASSIFY: "Classify the content above. Answer with the label only.",
    TaskKind.TRANSCRIBE: "Transcribe the speech in the content above.",
    TaskKind.ANSWER: "Answer the question about the content above.",
    TaskKind.CODE: "Write the code the content above asks for.",
    TaskKind.REASON: "Work through the problem above step by step and give the answer.",
    TaskKind.CREATIVE: "Write the piece the content above asks for.",
}


def prompt_for(item: WorkItem) -> str:
    return item.prompt or DEFAULT_PROMPTS[item.task]
