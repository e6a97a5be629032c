//! `crm dlq`: the dead letters an operator inspects, and re-drives into the consumer that
//! parked them once the cause is fixed.

use clap::{Args, Subcommand};
use crm_events::dlq::{self, DeadLetter};

/// `crm dlq`.
#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(flatten)]
    nats: crate::operator::OperatorNats,
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// Lists dead letters, oldest first: sequence, consumer, event type, entity, when parked,
    /// attempts and the last error.
    List {
        /// Only those of this consumer (e.g. `sales-customer-events`).
        #[arg(long)]
        consumer: Option<String>,
        /// Only those after this sequence (the last one of the previous page).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Shows one dead letter.
    Show {
        /// Its sequence in the dead-letter stream.
        sequence: u64,
    },
    /// Re-drives dead letters into the consumer that parked them, and removes them from the
    /// dead-letter stream: the sequences given, or every one of `--consumer`.
    Replay {
        /// Sequences in the dead-letter stream.
        sequences: Vec<u64>,
        /// Every dead letter of this consumer.
        #[arg(long, conflicts_with = "sequences")]
        consumer: Option<String>,
    },
}

/// Runs `crm dlq`.
pub async fn run(args: DlqArgs) -> anyhow::Result<()> {
    let js = args.nats.jetstream("crm-dlq").await?;
    match args.command {
        DlqCommand::List {
            consumer,
            after,
            limit,
        } => {
            let letters = dlq::list(&js, consumer.as_deref(), after, limit).await?;
            println!("sequence\tconsumer\ttype\tentity\tparked_at\tattempts\terror");
            for l in &letters {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    l.sequence, l.consumer, l.event_type, l.entity, l.parked_at, l.attempts, l.error
                );
            }
            if letters.len() == limit
                && let Some(last) = letters.last()
            {
                eprintln!("more may follow: --after {}", last.sequence);
            }
        }
        DlqCommand::Show { sequence } => print_letter(&dlq::get(&js, sequence).await?),
        DlqCommand::Replay { sequences, consumer } => {
            let sequences = match consumer {
                Some(consumer) => every_sequence(&js, &consumer).await?,
                None => sequences,
            };
            anyhow::ensure!(
                !sequences.is_empty(),
                "nothing to replay: give sequences or --consumer"
            );
            for sequence in sequences {
                let l = dlq::replay(&js, sequence).await?;
                println!(
                    "replayed {sequence}: {} {} into {}",
                    l.event_type, l.event_id, l.consumer
                );
            }
        }
    }
    Ok(())
}

/// Every dead letter of `consumer`, a page at a time.
async fn every_sequence(js: &async_nats::jetstream::Context, consumer: &str) -> anyhow::Result<Vec<u64>> {
    const PAGE: usize = 500;
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = dlq::list(js, Some(consumer), after, PAGE).await?;
        out.extend(page.iter().map(|l| l.sequence));
        match page.last() {
            Some(last) if page.len() == PAGE => after = last.sequence,
            _ => return Ok(out),
        }
    }
}

fn print_letter(l: &DeadLetter) {
    println!("sequence:         {}", l.sequence);
    println!("consumer:         {}", l.consumer);
    println!("original subject: {}", l.original_subject);
    println!("event id:         {}", l.event_id);
    println!("event type:       {}", l.event_type);
    println!("entity:           {}", l.entity);
    println!("parked at:        {}", l.parked_at);
    println!("attempts:         {}", l.attempts);
    println!("error:            {}", l.error);
    println!("payload:          {} bytes", l.payload.len());
}
