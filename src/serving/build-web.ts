/** `npm run build`'s last step: bundle the web page's script into dist/web/app.js. */
import { writePrebuiltBundle } from './web-bundle.js';

const file = await writePrebuiltBundle();
process.stdout.write(`web bundle: ${file}\n`);
