/**
 * What `npm start` and `npm run start:cluster` say when a port they listen on is taken: the
 * variable that moves it, instead of a stack trace.
 */

/**
 * Handles a failed start: a port in use ends the process with the variable to set; anything
 * else is thrown on.
 * @param variable - the environment variable that sets the port (`PORT`, `PUSH_PORT`)
 * @param port - the port that was asked for
 * @param command - how the developer started it, for the example line
 * @returns a rejection handler for the start's promise
 */
export function exitIfBusy(variable: string, port: number, command = 'npm start') {
  return (error: unknown): never => {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    console.error(
      `Port ${port} (${variable}) is in use. Stop what listens there, or start on another:`,
    );
    console.error(`  ${variable}=${port + 100} ${command}`);
    console.error('`npm run firefox` then needs the same PORT and PUSH_PORT.');
    process.exit(1);
  };
}
