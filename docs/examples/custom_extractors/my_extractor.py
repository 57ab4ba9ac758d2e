# docs/examples/custom_extractors/my_extractor.py
"""The spec's custom extractor (Extending medallion-foundry → Creating Custom
Extractors), unchanged but for its records: it makes a few example records from
its params and the run date instead of fetching them, so the example runs with
no network. Replace the marked lines with your extraction logic.

foundry runs it as written, including ``from extractors.base import BaseExtractor``.
"""
from typing import Dict, Any, List, Tuple, Optional
from datetime import date
from extractors.base import BaseExtractor

class MyCustomExtractor(BaseExtractor):
    def fetch_records(
        self, 
        cfg: Dict[str, Any], 
        run_date: date
    ) -> Tuple[List[Dict[str, Any]], Optional[str]]:
        """
        Extract records from custom source.
        
        Returns:
            Tuple of (records, new_cursor)
            - records: List of dictionaries
            - new_cursor: Optional cursor for incremental loads
        """
        source_cfg = cfg["source"]
        custom_cfg = source_cfg.get("custom_extractor", {})
        params = custom_cfg.get("params", {})
        
        # Your extraction logic here
        records = []
        # ... fetch data ... (the example makes three records instead)
        for i in range(1, 4):
            records.append({
                "id": i,
                "name": f"{source_cfg['table']}-{i}",
                "source_url": params.get("api_url"),
                "run_date": run_date.isoformat(),
            })
        
        new_cursor = None  # Update if doing incremental loads
        
        return records, new_cursor
