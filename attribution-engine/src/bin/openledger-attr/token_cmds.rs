//! `openledger-attr` subcommands of the token module. Results are JSON with the field names
//! of infini-gram's Python engine.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use openledger_attribution_engine::token::{
    read_jsonl, AttributeOptions, Error, Index, IndexBuilder, OpenOptions, TokenWidth, Tokenizer,
};
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Build an index from a JSON-lines corpus (token ids, or text with --tokenizer).
    Index(IndexArgs),
    /// Occurrences of a token sequence.
    Count(QueryArgs),
    /// P(cont | prompt) by exact counts.
    Prob(ProbArgs),
    /// Next-token distribution after a prompt.
    Ntd(NtdArgs),
    /// P(cont | longest occurring suffix of prompt).
    InfgramProb(ProbArgs),
    /// Next-token distribution after the longest occurring suffix of a prompt.
    InfgramNtd(NtdArgs),
    /// Ranks of a token sequence's suffixes in each shard.
    Find(QueryArgs),
    /// A document, by shard and rank, shard and pointer, or document number.
    Doc(DocArgs),
    /// For each position, the end of the longest match starting there.
    Creativity(QueryArgs),
    /// Maximal spans of an output that occur in the corpus (OLMoTrace).
    Attribute(AttributeArgs),
    /// Per-contribution shares (parts per billion) of an output.
    Shares(AttributeArgs),
}

#[derive(Args)]
pub struct IndexArgs {
    /// The corpus: JSON lines.
    #[arg(long)]
    input: PathBuf,
    /// Directory to write the index into.
    #[arg(long = "index")]
    dir: PathBuf,
    /// Bytes per token: 2 or 4.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=4))]
    token_width: u8,
    /// A tokenizer.json, for documents given as text.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Largest shard in tokens (default: 16 MiB of stream).
    #[arg(long)]
    max_shard_tokens: Option<u64>,
    /// Shards sorted at once on worker threads (1: all on the main thread). Each shard's
    /// suffix array is built single-threaded by libsais; the default is one worker per CPU.
    /// The files are the same whatever the number.
    #[arg(long, default_value_t = one_per_cpu())]
    threads: usize,
}

fn one_per_cpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[derive(Args)]
pub struct IndexOpts {
    /// Index directory.
    #[arg(long = "index")]
    dir: PathBuf,
    /// Bytes per token: 2 or 4.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=4))]
    token_width: u8,
    /// End-of-sequence token id reported by ntd at document ends.
    #[arg(long, default_value_t = 0)]
    eos: u32,
}

#[derive(Args)]
pub struct QueryArgs {
    #[command(flatten)]
    index: IndexOpts,
    /// Query token ids (none: the empty query).
    ids: Vec<u32>,
    /// Text to tokenize with --tokenizer instead of ids.
    #[arg(long, requires = "tokenizer", conflicts_with = "ids")]
    text: Option<String>,
    #[arg(long)]
    tokenizer: Option<PathBuf>,
}

#[derive(Args)]
pub struct ProbArgs {
    #[command(flatten)]
    query: QueryArgs,
    /// The continuation token.
    #[arg(long)]
    cont: u32,
}

#[derive(Args)]
pub struct NtdArgs {
    #[command(flatten)]
    query: QueryArgs,
    #[arg(long, default_value_t = 1000)]
    max_support: u64,
}

#[derive(Args)]
pub struct DocArgs {
    #[command(flatten)]
    index: IndexOpts,
    #[arg(long, default_value_t = 0)]
    shard: usize,
    #[arg(long, conflicts_with_all = ["ptr", "doc_ix"])]
    rank: Option<u64>,
    #[arg(long, conflicts_with = "doc_ix")]
    ptr: Option<u64>,
    #[arg(long)]
    doc_ix: Option<u64>,
    #[arg(long, default_value_t = 1000)]
    max_disp_len: u64,
}

#[derive(Args)]
pub struct AttributeArgs {
    #[command(flatten)]
    query: QueryArgs,
    /// Delimiter token ids (comma-separated): a span ends after the first one it contains.
    #[arg(long, value_delimiter = ',')]
    delim: Vec<u32>,
    #[arg(long, default_value_t = 1)]
    min_len: usize,
    #[arg(long, default_value_t = 1000)]
    max_cnt: u64,
    /// Beginning-of-word token ids (comma-separated); spans then start and end at words.
    #[arg(long, value_delimiter = ',')]
    bow: Vec<u32>,
}

fn width(bytes: u8) -> Result<TokenWidth, Error> {
    TokenWidth::from_bytes(bytes as usize)
        .ok_or_else(|| Error::InvalidArgument(format!("--token-width must be 2 or 4, not {bytes}")))
}

fn open(opts: &IndexOpts) -> Result<Index, Error> {
    Index::open(
        &opts.dir,
        OpenOptions {
            token_width: width(opts.token_width)?,
            eos: opts.eos,
        },
    )
}

fn ids(q: &QueryArgs) -> Result<Vec<u32>, Error> {
    match (&q.text, &q.tokenizer) {
        (Some(text), Some(tok)) => Tokenizer::from_file(tok)?.encode(text),
        _ => Ok(q.ids.clone()),
    }
}

fn to_json<T: serde::Serialize>(v: T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::InvalidArgument(e.to_string()))
}

pub fn run(cmd: TokenCommand) -> Result<Value, String> {
    run_token(cmd).map_err(|e| e.to_string())
}

fn attribute_options(a: &AttributeArgs) -> AttributeOptions {
    AttributeOptions {
        delim_ids: a.delim.clone(),
        min_len: a.min_len,
        max_cnt: a.max_cnt,
        enforce_bow: !a.bow.is_empty(),
        bow_ids: a.bow.iter().copied().collect::<HashSet<_>>(),
    }
}

fn run_token(cmd: TokenCommand) -> Result<Value, Error> {
    match cmd {
        TokenCommand::Index(a) => {
            let tokenizer = a.tokenizer.as_ref().map(Tokenizer::from_file).transpose()?;
            let file = File::open(&a.input).map_err(|e| Error::Io {
                path: a.input.clone(),
                source: e,
            })?;
            let mut builder = IndexBuilder::new(&a.dir, width(a.token_width)?)
                .progress(true)
                .threads(a.threads);
            if let Some(n) = a.max_shard_tokens {
                builder = builder.max_shard_tokens(n);
            }
            let stats = builder.build(read_jsonl(
                BufReader::with_capacity(1 << 20, file),
                tokenizer.as_ref(),
            ))?;
            let mut v = to_json(&stats)?;
            v["tokens_per_second"] = json!(stats.tokens as f64 / stats.seconds.max(1e-9));
            v["index_bytes_per_token"] = json!(stats.index_bytes as f64 / stats.tokens as f64);
            Ok(v)
        }
        TokenCommand::Count(q) => to_json(open(&q.index)?.count(&ids(&q)?)?),
        TokenCommand::Find(q) => to_json(open(&q.index)?.find(&ids(&q)?)?),
        TokenCommand::Prob(p) => to_json(open(&p.query.index)?.prob(&ids(&p.query)?, p.cont)?),
        TokenCommand::InfgramProb(p) => {
            to_json(open(&p.query.index)?.infgram_prob(&ids(&p.query)?, p.cont)?)
        }
        TokenCommand::Ntd(n) => to_json(open(&n.query.index)?.ntd(&ids(&n.query)?, n.max_support)?),
        TokenCommand::InfgramNtd(n) => {
            to_json(open(&n.query.index)?.infgram_ntd(&ids(&n.query)?, n.max_support)?)
        }
        TokenCommand::Creativity(q) => to_json(open(&q.index)?.creativity(&ids(&q)?)?),
        TokenCommand::Doc(d) => {
            let index = open(&d.index)?;
            let doc = match (d.rank, d.ptr, d.doc_ix) {
                (Some(rank), _, _) => index.get_doc_by_rank(d.shard, rank, d.max_disp_len)?,
                (_, Some(ptr), _) => index.get_doc_by_ptr(d.shard, ptr, d.max_disp_len)?,
                (_, _, Some(ix)) => index.get_doc_by_ix(ix, d.max_disp_len)?,
                _ => {
                    return Err(Error::InvalidArgument(
                        "give --rank, --ptr or --doc-ix".into(),
                    ))
                }
            };
            to_json(doc)
        }
        TokenCommand::Attribute(a) => {
            to_json(open(&a.query.index)?.attribute(&ids(&a.query)?, &attribute_options(&a))?)
        }
        TokenCommand::Shares(a) => {
            let index = open(&a.query.index)?;
            let input = ids(&a.query)?;
            let (attribution, shares) = index.attribute_shares(&input, &attribute_options(&a))?;
            let spans: Vec<Value> = attribution
                .spans
                .iter()
                .map(|s| json!({"l": s.l, "r": s.r, "length": s.length, "count": s.count}))
                .collect();
            let mut v = to_json(&shares)?;
            v["total_perbill"] = json!(shares.total_perbill());
            v["spans"] = Value::Array(spans);
            Ok(v)
        }
    }
}
