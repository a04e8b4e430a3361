//! The size baseline for `cross/protocol-size.sh`: the same std and error plumbing as
//! `envelope_roundtrip`, without `daas-protocol`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let r: Result<(), Box<dyn std::error::Error>> = if args.len() > 5 {
        Err("many args".into())
    } else {
        Ok(())
    };
    match r {
        Ok(()) => {
            println!("baseline {}", args.len());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
