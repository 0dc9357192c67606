// Package oolong reads, scores and rebuilds OOLONG-real, the long-context
// benchmark of questions about Critical Role episodes (Bertsch et al.,
// "OOLONG: Evaluating Long Context Reasoning and Aggregation Capabilities",
// 2025; data on the Hub as oolongbench/oolong-real).
//
// # Rows
//
// An [Example] is one row: a question, its gold answer and the context
// window it is about (instructions, the player-to-character map and 1 to 24
// episode transcripts, up to 1.3M tokens). The files are [JSONLPath] on the
// dataset's main revision, and Parquet shards on [ParquetRevision] (see
// [ParquetShards]).
//
// # Reading
//
// A [Reader] streams a split from JSONL ([NewReader], [Open]) or Parquet
// ([NewParquetReader], [Open]), filtering rows by question type
// ([WithQuestionTypes]), episode count ([WithEpisodes]) and context length
// ([WithContextLength], [WithLengthFunc]) as it reads:
//
//	r, err := oolong.Open("dnd/test.jsonl", oolong.WithEpisodes(1, 1))
//	defer r.Close()
//	for e, err := range r.All(ctx) { ... }
//
// A split is gigabytes (about 6,000 rows of 1.5 million characters on
// average, rows sharing context windows); a Reader never holds it. For
// JSONL it holds one line, the raw text of the last window decoded and that
// window (about three times the longest row, plus a 1 MiB buffer); rows of
// an unchanged window get the same string without decoding it again, and
// rows dropped by the filters that need no text are never decoded. For
// Parquet it holds one batch of rows ([WithParquetBatchRows], 1 by default)
// and one page per column: a file whose writer packed many rows into one
// page costs that page, whatever the reader.
//
// # Scoring
//
// [Score] is the official OOLONG-real score of a model's output against the
// gold answer, reproduced branch for branch from the official scorer
// (dnd_process_response in github.com/abertsch72/oolong): the answer is
// taken from \boxed{...}, parsed as an integer by Python's int() rules, a
// comma-separated list, or a string, and scored 0.75^|error| for integers,
// by set overlap for lists and by case-insensitive equality for strings.
// [Grade] also says how both answers were read. [LenientScore] is not the
// official score: it reads an output without a box as if it were boxed, a
// rule to report beside the official one, labelled as such.
//
// # Selection
//
// The official evaluation runs the rows whose context window has more than
// 1024 and at most 131072 tokens of the evaluated model
// ([OfficialTokenRange]), sorted by context_window_id
// ([SortByContextWindow]). [Select] applies that rule to rows and known
// token counts. [WindowHeader] returns what opens a window before its
// transcripts: the instructions and the player-to-character map.
//
// # Context windows
//
// [LoadCampaign] gives access to the CRD3 transcripts the dataset is built
// from ([TranscriptDir] finds them), and [Campaign.Window] builds context
// windows exactly as the official generator does, with the dataset's
// identifiers ([ContextWindowID], [ExampleID]): real text of real length for
// tests, benchmarks and examples, without the dataset. [Campaign.First] and
// [Campaign.WindowOfLength] pick the first episodes by count or by length.
//
// # Concurrency
//
// [Score], [LenientScore], [Grade], [ParseAnswer], [ExtractBoxed], [Select]
// and [WindowHeader] are safe for concurrent use, and so is a [Campaign]. A
// [Reader] is not.
package oolong
