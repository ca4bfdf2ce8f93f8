/**
 * GitHub Actions workflow commands (`::error title=...::message`), escaped as @actions/core
 * escapes them: a message containing `%`, CR or LF, or a property containing `:` or `,`,
 * can then neither break the command nor inject another one.
 */
export function escapeData(s: string): string {
  return s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

export function escapeProperty(s: string): string {
  return escapeData(s).replaceAll(':', '%3A').replaceAll(',', '%2C');
}

export function workflowCommand(command: string, message: string, properties: Readonly<Record<string, string>> = {}): string {
  const props = Object.entries(properties).map(([k, v]) => `${k}=${escapeProperty(v)}`).join(',');
  return `::${command}${props ? ` ${props}` : ''}::${escapeData(message)}\n`;
}
