import './base.css';
import './tageditor.css';
import './lineage.css';
